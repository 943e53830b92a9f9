//! BCP-47 language tags (`urn:ietf:bcp:47`): the RFC 5646 syntax, with
//! two-letter language subtags checked against ISO 639-1 and two-letter
//! regions against ISO 3166-1 (three-letter languages, scripts, numeric
//! regions and variants are checked for syntax only). Matching is
//! case-insensitive, as the RFC says.

const LANGUAGES: &str = "aa:Afar|ab:Abkhazian|ae:Avestan|af:Afrikaans|ak:Akan|am:Amharic|an:Aragonese|ar:Arabic|as:Assamese|av:Avaric|ay:Aymara|az:Azerbaijani|ba:Bashkir|be:Belarusian|bg:Bulgarian|bi:Bislama|bm:Bambara|bn:Bengali|bo:Tibetan|br:Breton|bs:Bosnian|ca:Catalan|ce:Chechen|ch:Chamorro|co:Corsican|cr:Cree|cs:Czech|cu:Church Slavic|cv:Chuvash|cy:Welsh|da:Danish|de:German|dv:Dhivehi|dz:Dzongkha|ee:Ewe|el:Greek|en:English|eo:Esperanto|es:Spanish|et:Estonian|eu:Basque|fa:Persian|ff:Fulah|fi:Finnish|fj:Fijian|fo:Faroese|fr:French|fy:Western Frisian|ga:Irish|gd:Scottish Gaelic|gl:Galician|gn:Guarani|gu:Gujarati|gv:Manx|ha:Hausa|he:Hebrew|hi:Hindi|ho:Hiri Motu|hr:Croatian|ht:Haitian|hu:Hungarian|hy:Armenian|hz:Herero|ia:Interlingua|id:Indonesian|ie:Interlingue|ig:Igbo|ii:Sichuan Yi|ik:Inupiaq|io:Ido|is:Icelandic|it:Italian|iu:Inuktitut|ja:Japanese|jv:Javanese|ka:Georgian|kg:Kongo|ki:Kikuyu|kj:Kuanyama|kk:Kazakh|kl:Kalaallisut|km:Khmer|kn:Kannada|ko:Korean|kr:Kanuri|ks:Kashmiri|ku:Kurdish|kv:Komi|kw:Cornish|ky:Kirghiz|la:Latin|lb:Luxembourgish|lg:Ganda|li:Limburgan|ln:Lingala|lo:Lao|lt:Lithuanian|lu:Luba-Katanga|lv:Latvian|mg:Malagasy|mh:Marshallese|mi:Maori|mk:Macedonian|ml:Malayalam|mn:Mongolian|mr:Marathi|ms:Malay|mt:Maltese|my:Burmese|na:Nauru|nb:Norwegian Bokmål|nd:North Ndebele|ne:Nepali|ng:Ndonga|nl:Dutch|nn:Norwegian Nynorsk|no:Norwegian|nr:South Ndebele|nv:Navajo|ny:Nyanja|oc:Occitan|oj:Ojibwa|om:Oromo|or:Oriya|os:Ossetian|pa:Panjabi|pi:Pali|pl:Polish|ps:Pushto|pt:Portuguese|qu:Quechua|rm:Romansh|rn:Rundi|ro:Romanian|ru:Russian|rw:Kinyarwanda|sa:Sanskrit|sc:Sardinian|sd:Sindhi|se:Northern Sami|sg:Sango|si:Sinhala|sk:Slovak|sl:Slovenian|sm:Samoan|sn:Shona|so:Somali|sq:Albanian|sr:Serbian|ss:Swati|st:Southern Sotho|su:Sundanese|sv:Swedish|sw:Swahili|ta:Tamil|te:Telugu|tg:Tajik|th:Thai|ti:Tigrinya|tk:Turkmen|tl:Tagalog|tn:Tswana|to:Tonga|tr:Turkish|ts:Tsonga|tt:Tatar|tw:Twi|ty:Tahitian|ug:Uighur|uk:Ukrainian|ur:Urdu|uz:Uzbek|ve:Venda|vi:Vietnamese|vo:Volapük|wa:Walloon|wo:Wolof|xh:Xhosa|yi:Yiddish|yo:Yoruba|za:Zhuang|zh:Chinese|zu:Zulu";

const REGIONS: &str = "AD:Andorra|AE:United Arab Emirates|AF:Afghanistan|AG:Antigua and Barbuda|AI:Anguilla|AL:Albania|AM:Armenia|AO:Angola|AQ:Antarctica|AR:Argentina|AS:American Samoa|AT:Austria|AU:Australia|AW:Aruba|AX:Åland Islands|AZ:Azerbaijan|BA:Bosnia and Herzegovina|BB:Barbados|BD:Bangladesh|BE:Belgium|BF:Burkina Faso|BG:Bulgaria|BH:Bahrain|BI:Burundi|BJ:Benin|BL:Saint Barthélemy|BM:Bermuda|BN:Brunei|BO:Bolivia|BQ:Caribbean Netherlands|BR:Brazil|BS:Bahamas|BT:Bhutan|BV:Bouvet Island|BW:Botswana|BY:Belarus|BZ:Belize|CA:Canada|CC:Cocos (Keeling) Islands|CD:Congo (DRC)|CF:Central African Republic|CG:Congo|CH:Switzerland|CI:Côte d'Ivoire|CK:Cook Islands|CL:Chile|CM:Cameroon|CN:China|CO:Colombia|CR:Costa Rica|CU:Cuba|CV:Cabo Verde|CW:Curaçao|CX:Christmas Island|CY:Cyprus|CZ:Czechia|DE:Germany|DJ:Djibouti|DK:Denmark|DM:Dominica|DO:Dominican Republic|DZ:Algeria|EC:Ecuador|EE:Estonia|EG:Egypt|EH:Western Sahara|ER:Eritrea|ES:Spain|ET:Ethiopia|EU:European Union|FI:Finland|FJ:Fiji|FK:Falkland Islands|FM:Micronesia|FO:Faroe Islands|FR:France|GA:Gabon|GB:United Kingdom|GD:Grenada|GE:Georgia|GF:French Guiana|GG:Guernsey|GH:Ghana|GI:Gibraltar|GL:Greenland|GM:Gambia|GN:Guinea|GP:Guadeloupe|GQ:Equatorial Guinea|GR:Greece|GS:South Georgia and South Sandwich Islands|GT:Guatemala|GU:Guam|GW:Guinea-Bissau|GY:Guyana|HK:Hong Kong|HM:Heard Island and McDonald Islands|HN:Honduras|HR:Croatia|HT:Haiti|HU:Hungary|ID:Indonesia|IE:Ireland|IL:Israel|IM:Isle of Man|IN:India|IO:British Indian Ocean Territory|IQ:Iraq|IR:Iran|IS:Iceland|IT:Italy|JE:Jersey|JM:Jamaica|JO:Jordan|JP:Japan|KE:Kenya|KG:Kyrgyzstan|KH:Cambodia|KI:Kiribati|KM:Comoros|KN:Saint Kitts and Nevis|KP:North Korea|KR:South Korea|KW:Kuwait|KY:Cayman Islands|KZ:Kazakhstan|LA:Laos|LB:Lebanon|LC:Saint Lucia|LI:Liechtenstein|LK:Sri Lanka|LR:Liberia|LS:Lesotho|LT:Lithuania|LU:Luxembourg|LV:Latvia|LY:Libya|MA:Morocco|MC:Monaco|MD:Moldova|ME:Montenegro|MF:Saint Martin|MG:Madagascar|MH:Marshall Islands|MK:North Macedonia|ML:Mali|MM:Myanmar|MN:Mongolia|MO:Macao|MP:Northern Mariana Islands|MQ:Martinique|MR:Mauritania|MS:Montserrat|MT:Malta|MU:Mauritius|MV:Maldives|MW:Malawi|MX:Mexico|MY:Malaysia|MZ:Mozambique|NA:Namibia|NC:New Caledonia|NE:Niger|NF:Norfolk Island|NG:Nigeria|NI:Nicaragua|NL:Netherlands|NO:Norway|NP:Nepal|NR:Nauru|NU:Niue|NZ:New Zealand|OM:Oman|PA:Panama|PE:Peru|PF:French Polynesia|PG:Papua New Guinea|PH:Philippines|PK:Pakistan|PL:Poland|PM:Saint Pierre and Miquelon|PN:Pitcairn Islands|PR:Puerto Rico|PS:Palestine|PT:Portugal|PW:Palau|PY:Paraguay|QA:Qatar|RE:Réunion|RO:Romania|RS:Serbia|RU:Russia|RW:Rwanda|SA:Saudi Arabia|SB:Solomon Islands|SC:Seychelles|SD:Sudan|SE:Sweden|SG:Singapore|SH:Saint Helena|SI:Slovenia|SJ:Svalbard and Jan Mayen|SK:Slovakia|SL:Sierra Leone|SM:San Marino|SN:Senegal|SO:Somalia|SR:Suriname|SS:South Sudan|ST:São Tomé and Príncipe|SV:El Salvador|SX:Sint Maarten|SY:Syria|SZ:Eswatini|TC:Turks and Caicos Islands|TD:Chad|TF:French Southern Territories|TG:Togo|TH:Thailand|TJ:Tajikistan|TK:Tokelau|TL:Timor-Leste|TM:Turkmenistan|TN:Tunisia|TO:Tonga|TR:Türkiye|TT:Trinidad and Tobago|TV:Tuvalu|TW:Taiwan|TZ:Tanzania|UA:Ukraine|UG:Uganda|UM:U.S. Outlying Islands|UN:United Nations|US:United States|UY:Uruguay|UZ:Uzbekistan|VA:Vatican City|VC:Saint Vincent and the Grenadines|VE:Venezuela|VG:British Virgin Islands|VI:U.S. Virgin Islands|VN:Vietnam|VU:Vanuatu|WF:Wallis and Futuna|WS:Samoa|XK:Kosovo|YE:Yemen|YT:Mayotte|ZA:South Africa|ZM:Zambia|ZW:Zimbabwe";

fn name_in(table: &'static str, code: &str) -> Option<&'static str> {
    table.split('|').find_map(|entry| {
        let (c, name) = entry.split_once(':')?;
        c.eq_ignore_ascii_case(code).then_some(name)
    })
}

/// Checks a tag; `Ok` carries a display such as "Portuguese (Brazil)".
pub fn check(tag: &str) -> Result<String, String> {
    let lower = tag.to_ascii_lowercase();
    if lower.starts_with("x-") || lower.starts_with("i-") {
        return private_use(&lower["x-".len()..])
            .map(|()| tag.to_owned())
            .map_err(|e| format!("'{tag}': {e}"));
    }
    parse(tag)
        .map(|(display, _)| display)
        .map_err(|e| format!("'{tag}' is not a valid BCP-47 language tag: {e}"))
}

/// Which optional parts a valid tag has, by the property names of
/// value set filters (`ext-lang`, `script`, `region`, `variant`,
/// `extension`, `private-use`); `None` for an invalid tag.
pub fn parts(tag: &str) -> Option<Vec<&'static str>> {
    let lower = tag.to_ascii_lowercase();
    if lower.starts_with("x-") || lower.starts_with("i-") {
        return check(tag).ok().map(|_| vec!["private-use"]);
    }
    parse(tag).ok().map(|(_, parts)| parts)
}

fn is_alpha(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_alnum(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn private_use(rest: &str) -> Result<(), String> {
    if !rest.is_empty() && rest.split('-').all(|s| is_alnum(s, 1, 8)) {
        Ok(())
    } else {
        Err("private-use subtags must be 1 to 8 letters or digits".into())
    }
}

fn parse(tag: &str) -> Result<(String, Vec<&'static str>), String> {
    let mut parts = Vec::new();
    let subtags: Vec<&str> = tag.split('-').collect();
    let mut it = subtags.iter().copied().peekable();
    let language = it.next().unwrap_or_default();
    if !is_alpha(language, 2, 8) {
        return Err(format!("'{language}' is not a language subtag"));
    }
    let mut display = language_name(language)?;
    // extlang: up to three 3-letter subtags after a 2–3 letter language.
    let mut extlangs = 0;
    while language.len() <= 3 && extlangs < 3 && it.peek().is_some_and(|s| is_alpha(s, 3, 3)) {
        it.next();
        extlangs += 1;
    }
    if extlangs > 0 {
        parts.push("ext-lang");
    }
    if it.peek().is_some_and(|s| is_alpha(s, 4, 4)) {
        it.next();
        parts.push("script");
    }
    let mut qualifiers = Vec::new();
    if let Some(region) = it.peek().copied().filter(|s| is_alpha(s, 2, 2) || is_digits(s, 3)) {
        it.next();
        parts.push("region");
        qualifiers.push(region_name(region)?);
    }
    rest_subtags(&mut it, &mut parts)?;
    if !qualifiers.is_empty() {
        display = format!("{display} ({})", qualifiers.join(", "));
    }
    Ok((display, parts))
}

fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn language_name(language: &str) -> Result<String, String> {
    match language.len() {
        2 => name_in(LANGUAGES, language)
            .map(str::to_owned)
            .ok_or_else(|| format!("'{language}' is not an ISO 639-1 language")),
        4 => Err(format!("'{language}' is reserved, not a language")),
        _ => Ok(language.to_owned()),
    }
}

fn region_name(region: &str) -> Result<String, String> {
    if region.len() == 3 {
        return Ok(region.to_owned());
    }
    name_in(REGIONS, region)
        .map(str::to_owned)
        .ok_or_else(|| format!("'{region}' is not an ISO 3166-1 region"))
}

/// Variants, extensions and a private-use tail.
fn rest_subtags<'a>(it: &mut impl Iterator<Item = &'a str>, parts: &mut Vec<&'static str>) -> Result<(), String> {
    let rest: Vec<&str> = it.collect();
    let mut i = 0;
    while i < rest.len() {
        let s = rest[i];
        if s.eq_ignore_ascii_case("x") {
            parts.push("private-use");
            return private_use(&rest[i + 1..].join("-"));
        }
        if s.len() == 1 && is_alnum(s, 1, 1) {
            let n = rest[i + 1..].iter().take_while(|e| is_alnum(e, 2, 8)).count();
            if n == 0 {
                return Err(format!("extension '{s}' has no subtags"));
            }
            parts.push("extension");
            i += 1 + n;
            continue;
        }
        let variant = is_alnum(s, 5, 8) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit() && is_alnum(s, 4, 4));
        if !variant {
            return Err(format!("'{s}' is not a valid subtag here"));
        }
        parts.push("variant");
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_tags_and_names_them() {
        assert_eq!(check("pt-BR").unwrap(), "Portuguese (Brazil)");
        assert_eq!(check("en").unwrap(), "English");
        assert_eq!(check("EN-us").unwrap(), "English (United States)");
        for ok in [
            "zh-Hant-TW",
            "es-419",
            "sl-rozaj-biske",
            "de-CH-1901",
            "en-US-x-twain",
            "yue",
            "x-klingon",
            "en-a-bbb-x-a-ccc",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn reports_the_parts_a_tag_has() {
        assert_eq!(parts("en"), Some(vec![]));
        assert_eq!(parts("zh-Hant-TW"), Some(vec!["script", "region"]));
        assert_eq!(parts("de-CH-1901-x-a"), Some(vec!["region", "variant", "private-use"]));
        assert_eq!(parts("pt-ZZ"), None);
    }

    #[test]
    fn refuses_bad_syntax_and_unknown_two_letter_subtags() {
        for bad in [
            "",
            "e",
            "english-",
            "qq",
            "pt-ZZ",
            "en-US-",
            "en--US",
            "pt_BR",
            "de-419-DE",
            "a-DE",
            "en-a",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
