//! What shapes results (search.html#return): `_sort`, `_count` and paging
//! links that stay stable while others write, `_total`, `_summary`,
//! `_elements`.

use serde_json::{json, Value};

use super::{bundle, entries, ids, put_all};
use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

fn patient(id: &str, family: Option<&str>, birth: Option<&str>, gender: Option<&str>) -> Value {
    let mut p = json!({"resourceType": "Patient", "id": id});
    if let Some(family) = family {
        p["name"] = json!([{"family": family}]);
    }
    if let Some(birth) = birth {
        p["birthDate"] = json!(birth);
    }
    if let Some(gender) = gender {
        p["gender"] = json!(gender);
    }
    p
}

/// The URL of a Bundle link, relative to the base, or `None`.
fn link(bundle: &Value, relation: &str, app: &TestApp) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .map(|l| {
            let url = l["url"].as_str().unwrap_or_default();
            url.strip_prefix(&app.base).unwrap_or(url).to_owned()
        })
}

fn match_ids(bundle: &Value) -> Vec<String> {
    entries(bundle, "match")
        .into_iter()
        .map(|r| r.trim_start_matches("Patient/").to_owned())
        .collect()
}

/// search.html#sort: several keys, `-` for descending, resources without a
/// value last in both directions; the lowest of several values sorts
/// ascending (folded strings, as they are searched).
async fn sort_orders(backend: Backend) {
    let app = spawn_app(backend).await;
    put_all(
        &app,
        &[
            patient("a", Some("Alpha"), Some("1990-01-01"), Some("female")),
            patient("b", Some("beta"), Some("1980-01-01"), Some("male")),
            patient("c", Some("Álvares"), Some("1985-06-01"), Some("other")),
            patient("d", None, Some("1970"), None),
            patient("e", Some("Zeta"), None, Some("male")),
        ],
    )
    .await;
    for (query, expected) in [
        ("Patient?_sort=family", ["a", "c", "b", "e", "d"]),
        ("Patient?_sort=-family", ["e", "b", "c", "a", "d"]),
        ("Patient?_sort=birthdate", ["d", "b", "c", "a", "e"]),
        ("Patient?_sort=-birthdate", ["a", "c", "b", "d", "e"]),
        ("Patient?_sort=gender,family", ["a", "b", "e", "c", "d"]),
        ("Patient?_sort=gender,-family", ["a", "e", "b", "c", "d"]),
        ("Patient?_sort=_id", ["a", "b", "c", "d", "e"]),
        ("Patient?_sort=-_id", ["e", "d", "c", "b", "a"]),
        ("Patient?_sort=-_lastUpdated", ["e", "d", "c", "b", "a"]),
        ("Patient?_sort=_lastUpdated", ["a", "b", "c", "d", "e"]),
    ] {
        assert_eq!(ids(&app, query).await, expected, "{query}");
    }
    // With a criterion, the matches are keys read from index rows; keys
    // that are columns of the resource are read from it.
    for (query, expected) in [
        ("Patient?birthdate=le2000&_sort=-_id", &["d", "c", "b", "a"][..]),
        ("Patient?birthdate=le2000&_sort=-_lastUpdated", &["d", "c", "b", "a"]),
        ("Patient?birthdate=le2000&_sort=gender,_id", &["a", "b", "c", "d"]),
        ("Patient?gender=male&_sort=-family", &["e", "b"]),
    ] {
        assert_eq!(ids(&app, query).await, expected, "{query}");
    }
    // A name with two values sorts by the lowest ascending, the highest descending.
    put_all(
        &app,
        &[json!({"resourceType": "Patient", "id": "f", "name": [{"family": "Aaron"}, {"family": "Zz"}]})],
    )
    .await;
    assert_eq!(ids(&app, "Patient?_sort=family&_count=1").await, ["f"]);
    assert_eq!(ids(&app, "Patient?_sort=-family&_count=1").await, ["f"]);
}

/// search.html#paging with the house rule that a page set is pinned when the
/// first page is computed: creations after it never appear, and changes to
/// other resources never shift a page. Both with no criterion and with one
/// whose matches are read from index rows alone (keyed matches, whose
/// first page reads the pin in its own statement).
async fn paging_is_stable_while_others_write(backend: Backend) {
    for criteria in ["", "name=name&"] {
        paging_is_stable(backend, criteria).await;
    }
}

async fn paging_is_stable(backend: Backend, criteria: &str) {
    let app = spawn_app(backend).await;
    let family = |n: usize| format!("Name{n:02}0");
    let people: Vec<Value> = (1..=7)
        .map(|n| patient(&format!("n{n}"), Some(&family(n)), None, None))
        .collect();
    put_all(&app, &people).await;

    let first = bundle(&app, &format!("Patient?{criteria}_sort=family&_count=3")).await;
    assert_eq!(match_ids(&first), ["n1", "n2", "n3"]);
    assert_eq!(first["total"], 7);
    assert!(link(&first, "previous", &app).is_none());
    let next = link(&first, "next", &app).expect("a next link");

    // Others write: a new patient that would sort onto the next page, an
    // update of one on it, and the deletion of one already shown.
    put_all(&app, &[patient("new", Some("Name045"), None, None)]).await;
    put_all(&app, &[patient("n5", Some("Name050"), Some("2000-01-01"), None)]).await;
    assert_eq!(app.delete("Patient/n2").await.status, 204);

    let second = bundle(&app, &next).await;
    assert_eq!(match_ids(&second), ["n4", "n5", "n6"]);
    assert_eq!(
        second["total"], 6,
        "the deleted one is gone; the new one is not counted"
    );
    let third = bundle(&app, &link(&second, "next", &app).expect("next")).await;
    assert_eq!(match_ids(&third), ["n7"]);
    assert!(link(&third, "next", &app).is_none());

    let back = bundle(&app, &link(&third, "previous", &app).expect("previous")).await;
    assert_eq!(match_ids(&back), ["n4", "n5", "n6"]);
    let front = bundle(&app, &link(&back, "previous", &app).expect("previous")).await;
    assert_eq!(match_ids(&front), ["n1", "n3"]);
    assert!(link(&front, "previous", &app).is_none());

    // The links keep the search: criteria, sort and count.
    let self_link = link(&second, "self", &app).unwrap_or_default();
    assert!(
        self_link.starts_with(&format!("/Patient?{criteria}_sort=family&_count=3&_page=")),
        "{self_link}"
    );

    // A new search sees the new patient.
    let fresh = bundle(&app, &format!("Patient?{criteria}_sort=family&_count=10")).await;
    assert!(match_ids(&fresh).contains(&"new".to_owned()));
}

/// Without `_sort`, pages follow creation order, and a descending key pages
/// as well as an ascending one (missing values last).
async fn paging_without_sort_and_descending(backend: Backend) {
    let app = spawn_app(backend).await;
    let people: Vec<Value> = (1..=5)
        .map(|n| patient(&format!("m{n}"), None, (n != 3).then_some(&*format!("200{n}")), None))
        .collect();
    put_all(&app, &people).await;
    let mut seen = Vec::new();
    let mut next = Some("Patient?_count=2".to_owned());
    while let Some(query) = next {
        let page = bundle(&app, &query).await;
        seen.extend(match_ids(&page));
        next = link(&page, "next", &app);
    }
    assert_eq!(seen, ["m1", "m2", "m3", "m4", "m5"]);

    let mut seen = Vec::new();
    let mut next = Some("Patient?_sort=-birthdate&_count=2".to_owned());
    while let Some(query) = next {
        let page = bundle(&app, &query).await;
        seen.extend(match_ids(&page));
        next = link(&page, "next", &app);
    }
    assert_eq!(seen, ["m5", "m4", "m2", "m1", "m3"]);
}

/// search.html#total and `_summary=count`.
async fn total_and_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let people: Vec<Value> = (1..=4)
        .map(|n| patient(&format!("t{n}"), Some("Same"), None, None))
        .collect();
    put_all(&app, &people).await;
    let page = bundle(&app, "Patient?name=same&_count=2").await;
    assert_eq!(page["total"], 4);
    let page = bundle(&app, "Patient?name=same&_count=2&_total=accurate").await;
    assert_eq!(page["total"], 4);
    let page = bundle(&app, "Patient?name=same&_count=2&_total=estimate").await;
    assert_eq!(page["total"], 4);
    let page = bundle(&app, "Patient?name=same&_total=none").await;
    assert!(page.get("total").is_none(), "{page}");
    assert_eq!(match_ids(&page).len(), 4);
    let count = bundle(&app, "Patient?name=same&_summary=count").await;
    assert_eq!(count["total"], 4);
    assert!(count.get("entry").is_none(), "{count}");
    let none = bundle(&app, "Patient?name=nobody").await;
    assert_eq!(none["total"], 0);
    assert!(none.get("entry").is_none());
}

/// search.html#summary and #elements apply to every returned resource and
/// mark it SUBSETTED.
async fn summary_and_elements(backend: Backend) {
    let app = spawn_app(backend).await;
    put_all(
        &app,
        &[
            json!({"resourceType": "Patient", "id": "s1", "gender": "male", "name": [{"family": "Subset"}],
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
            "maritalStatus": {"text": "single"}}),
        ],
    )
    .await;
    let subsetted = |resource: &Value| resource["meta"]["tag"].to_string().contains("SUBSETTED");
    let page = bundle(&app, "Patient?_elements=gender").await;
    let resource = &page["entry"][0]["resource"];
    assert_eq!(resource["gender"], "male");
    assert!(resource.get("name").is_none(), "{resource}");
    assert!(subsetted(resource));
    let page = bundle(&app, "Patient?_summary=true").await;
    let resource = &page["entry"][0]["resource"];
    assert_eq!(resource["name"][0]["family"], "Subset");
    assert!(
        resource.get("maritalStatus").is_none() && resource.get("text").is_none(),
        "{resource}"
    );
    assert!(subsetted(resource));
    let page = bundle(&app, "Patient?_summary=false").await;
    assert!(!subsetted(&page["entry"][0]["resource"]));
}

/// A `_page` this server did not write is a client error, and so is one
/// replayed with another `_sort`.
async fn foreign_page_cursors_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let people: Vec<Value> = (1..=3)
        .map(|n| patient(&format!("c{n}"), Some("X"), None, None))
        .collect();
    put_all(&app, &people).await;
    let r = app.get("Patient?_page=garbage").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.issue()["code"], "value");
    let first = bundle(&app, "Patient?_sort=family&_count=1").await;
    let next = link(&first, "next", &app).expect("next");
    let replayed = next.replace("_sort=family", "_sort=family,birthdate");
    assert_eq!(app.get(&replayed).await.status, 400);
}

on_both_backends!(
    sort_orders,
    paging_is_stable_while_others_write,
    paging_without_sort_and_descending,
    total_and_count,
    summary_and_elements,
    foreign_page_cursors_are_refused,
);
