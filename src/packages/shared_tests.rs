//! The packages of the outside test data (`IPE_TEST_DATA/packages`) load
//! with their dependencies where available (issue 5, must-show 1).

use std::path::{Path, PathBuf};

use super::{base, CanonicalRegistry, Loader, Origin, Package, PackageCache, PackageSpec};

use super::test_packages::{shared, BACKPORT, BR_CORE, RNDS, THO, US_CORE_311, US_CORE_610, US_CORE_700};

const SHARED: &[&str] = &[THO, US_CORE_311, US_CORE_610, US_CORE_700, BR_CORE, RNDS, BACKPORT];

fn temp_cache(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ipe-packages-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn offline(cache: &Path) -> Loader {
    Loader {
        cache: PackageCache::new(cache),
        registry_url: None,
    }
}

#[tokio::test]
async fn shared_packages_install_and_load_with_their_dependencies() {
    let dir = temp_cache("shared");
    let loader = offline(&dir);
    for file in SHARED {
        let spec = PackageSpec::Path(shared(file));
        let out = super::cli::install(&loader, &[spec]).await.expect(file);
        assert!(out.contains("installed"), "{file}: {out}");
    }
    let listing = super::cli::list(&loader.cache).unwrap();
    println!("{listing}");
    assert!(listing.contains("hl7.fhir.us.core#6.1.0  http://hl7.org/fhir/us/core  210 resources, 183 examples"));
    assert!(listing.contains("hl7.terminology.r4#5.0.0 (not cached; 7.0.1 is used)"));

    // A deployment naming US Core 6.1.0, BR Core, RNDS and the backport by
    // their ready sets, from the cache alone.
    let registry = base::registry();
    let specs = super::sets::expand(&[
        "us-core".into(),
        "br-core".into(),
        "rnds".into(),
        "subscriptions-backport".into(),
    ]);
    let (report, packages) = loader.load(&specs, &registry).await.unwrap();
    let ids: Vec<&str> = report.loaded.iter().map(|l| l.id.as_str()).collect();
    assert!(
        ids.contains(&"hl7.terminology.r4#7.0.1"),
        "THO comes in as US Core's dependency: {ids:?}"
    );
    assert_eq!(
        report.substituted,
        vec![("hl7.terminology.r4#5.0.0".to_string(), "7.0.1".to_string())]
    );
    assert!(report.missing.iter().any(|(m, _)| m == "us.nlm.vsac#0.10.0"));
    assert_eq!(packages.len(), 5);

    let sd = |url: &str| {
        registry
            .structure_definition(url)
            .map(|sd| sd["name"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(
        sd("http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|6.1.0").as_deref(),
        Some("USCorePatientProfile")
    );
    assert!(sd("https://br-core.saude.gov.br/fhir/StructureDefinition/br-core-patient").is_some());
    assert!(sd("http://www.saude.gov.br/fhir/r4/StructureDefinition/BRIndividuoNaoIdentificado-1.0").is_some());
    assert!(registry
        .code_system("http://terminology.hl7.org/CodeSystem/v3-ActCode")
        .is_some());
    let from_rnds = registry
        .counts()
        .into_iter()
        .filter(|((origin, _), _)| *origin == Origin::Package("rnds#0.1.0".into()))
        .map(|(_, n)| n)
        .sum::<usize>();
    // 46 CodeSystems, 56 StructureDefinitions, 55 ValueSets and one
    // ImplementationGuide: the package carries it twice (ig-r4.json too).
    assert_eq!(from_rnds, 46 + 56 + 55 + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn missing_packages_are_downloaded_from_the_package_registry() {
    // A real HTTP server speaking the registry's download path
    // (`GET /<name>/<version>` → the tarball).
    let tgz = std::fs::read(shared("rnds-0.1.0.tgz")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            let (status, body): (&str, &[u8]) = if line.starts_with("GET /rnds/0.1.0 ") {
                ("200 OK", &tgz)
            } else {
                ("404 Not Found", b"")
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body).await;
        }
    });
    let dir = temp_cache("download");
    let loader = Loader {
        cache: PackageCache::new(&dir),
        registry_url: Some(url),
    };
    let registry = CanonicalRegistry::new();
    let (report, _) = loader
        .load(&[PackageSpec::parse("rnds@0.1.0")], &registry)
        .await
        .unwrap();
    assert_eq!(report.loaded[0].id, "rnds#0.1.0");
    assert_eq!(
        loader.cache.versions("rnds"),
        vec!["0.1.0".to_string()],
        "installed into the cache"
    );
    let cached = Package::read(&dir.join("rnds#0.1.0")).unwrap();
    assert_eq!(cached.files.len(), 159);

    let error = loader
        .load(&[PackageSpec::parse("nothing.here@1.0.0")], &registry)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
    let offline_error = offline(&dir)
        .load(&[PackageSpec::parse("nothing.here@1.0.0")], &registry)
        .await
        .unwrap_err();
    assert!(offline_error.to_string().contains("offline"), "{offline_error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
