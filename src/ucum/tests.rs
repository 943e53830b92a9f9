//! Tests of the public API.

use std::str::FromStr;

use super::*;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn factor(unit: &str) -> Decimal {
    canonical(unit).unwrap().factor
}

fn unit_text(unit: &str) -> String {
    canonical(unit).unwrap().unit()
}

fn conv(value: &str, from: &str, to: &str) -> Decimal {
    convert(dec(value), from, to).unwrap()
}

#[test]
fn base_units_are_their_own_canonical_form() {
    for (i, symbol) in ["m", "s", "g", "rad", "K", "C", "cd"].into_iter().enumerate() {
        let c = canonical(symbol).unwrap();
        assert_eq!(c.factor, Decimal::ONE, "{symbol}");
        let mut dims = [0; 7];
        dims[i] = 1;
        assert_eq!(c.dimensions, dims, "{symbol}");
        assert_eq!(c.unit(), symbol);
    }
}

#[test]
fn metric_prefixes_scale_exactly() {
    assert_eq!(factor("mg"), dec("0.001"));
    assert_eq!(factor("kg"), dec("1000"));
    assert_eq!(factor("ug"), dec("0.000001"));
    assert_eq!(factor("dam"), dec("10"));
    assert_eq!(factor("hm"), dec("100"));
    assert_eq!(factor("Tm"), dec("1000000000000"));
    assert_eq!(factor("yg"), dec("0.000000000000000000000001"));
    assert_eq!(factor("Yg"), dec("1000000000000000000000000"));
    assert_eq!(unit_text("kg"), "g");
}

#[test]
fn binary_prefixes_on_information_units() {
    // A byte is 8 bits; bits are dimensionless.
    assert_eq!(factor("By"), dec("8"));
    assert_eq!(factor("KiBy"), dec("8192"));
    assert_eq!(conv("1", "MiBy", "KiBy"), dec("1024"));
    assert_eq!(conv("1", "Gibit", "Mibit"), dec("1024"));
    assert_eq!(conv("1", "Tibit", "bit"), dec("1099511627776"));
    assert_eq!(conv("1", "kbit/s", "bit/s"), dec("1000"));
    assert_eq!(unit_text("By"), "1");
}

#[test]
fn exponents_apply_to_the_prefixed_unit() {
    assert_eq!(factor("cm3"), dec("0.000001"));
    assert_eq!(unit_text("cm3"), "m3");
    assert_eq!(factor("m2"), Decimal::ONE);
    assert_eq!(unit_text("s-1"), "s-1");
    assert_eq!(unit_text("m+2"), "m2");
    assert_eq!(canonical("m0").unwrap().dimensions, [0; 7]);
}

#[test]
fn division_is_left_associative() {
    assert_eq!(unit_text("m/s/s"), "m.s-2");
    assert_eq!(unit_text("/s"), "s-1");
    assert_eq!(unit_text("/min"), "s-1");
    assert_eq!(factor("/min"), Decimal::ONE / dec("60"));
    // mg/kg.d is (mg/kg).d, not mg/(kg.d).
    assert_eq!(unit_text("mg/kg.d"), "s");
    assert_eq!(factor("mg/kg.d"), dec("0.0864"));
}

#[test]
fn parentheses_group() {
    assert_eq!(unit_text("mg/(kg.d)"), "s-1");
    let per_hour = conv("1", "mg/(kg.d)", "ug/(kg.h)");
    assert!((per_hour - dec("1000") / dec("24")).abs() < dec("1e-25"), "{per_hour}");
    assert_eq!(unit_text("(m.(s/g))/s"), "m.g-1");
}

#[test]
fn derived_units_reduce_to_base_units() {
    assert_eq!(unit_text("N"), "m.s-2.g");
    assert_eq!(factor("N"), dec("1000"));
    assert_eq!(unit_text("J"), "m2.s-2.g");
    assert_eq!(unit_text("Hz"), "s-1");
    assert_eq!(unit_text("A"), "s-1.C");
    assert_eq!(unit_text("kg.m/s2"), "m.s-2.g");
    assert_eq!(canonical("N").unwrap(), canonical("kg.m/s2").unwrap());
}

#[test]
fn factors_and_powers_of_ten() {
    assert_eq!(factor("10*3"), dec("1000"));
    assert_eq!(factor("10^3"), dec("1000"));
    assert_eq!(factor("10*-3"), dec("0.001"));
    assert_eq!(factor("1000"), dec("1000"));
    assert_eq!(factor("%"), dec("0.01"));
    assert_eq!(factor("[ppm]"), dec("0.000001"));
    let count = canonical("10*3/uL").unwrap();
    assert_eq!((count.factor, count.unit()), (dec("1000000000000"), "m-3".to_owned()));
    assert_eq!(conv("6.3", "4.s/m", "s/m"), dec("25.2"));
    assert_eq!(conv("6.3", "s/4/m", "s/m"), dec("1.575"));
}

#[test]
fn annotations_count_as_one() {
    let score = canonical("{score}").unwrap();
    assert_eq!((score.factor, score.unit()), (Decimal::ONE, "1".to_owned()));
    assert_eq!(canonical("kg{body_wt}").unwrap(), canonical("kg").unwrap());
    assert_eq!(canonical("{cells}/uL").unwrap(), canonical("/uL").unwrap());
    assert_eq!(factor("1{c}"), Decimal::ONE);
    assert_eq!(conv("3", "{beats}/min", "/h"), dec("180"));
}

#[test]
fn customary_units_are_exact() {
    assert_eq!(conv("1", "[in_i]", "cm"), dec("2.54"));
    assert_eq!(conv("1", "[ft_i]", "cm"), dec("30.48"));
    assert_eq!(conv("1", "[mi_i]", "m"), dec("1609.344"));
    assert_eq!(conv("1", "[lb_av]", "g"), dec("453.59237"));
    assert_eq!(conv("1", "[oz_av]", "g"), dec("28.349523125"));
    assert_eq!(conv("16", "[oz_av]", "[lb_av]"), Decimal::ONE);
    assert_eq!(conv("1", "[gal_us]", "L"), dec("3.785411784"));
    assert_eq!(conv("128", "[foz_us]", "[gal_us]"), Decimal::ONE);
    assert_eq!(conv("1", "[yd_i]", "[in_i]"), dec("36"));
    assert_eq!(conv("6.30", "[in_i]", "m"), dec("0.16002"));
}

#[test]
fn fhirpath_style_comparisons() {
    // 4 'g' = 4000 'mg'
    assert_eq!(conv("4", "g", "mg"), dec("4000"));
    // 1 'cm' < 1 'in'
    assert!(dec("1") < conv("1", "[in_i]", "cm"));
    // 3 'min' = 180 's', 1 'h' = 60 'min'
    assert_eq!(conv("3", "min", "s"), dec("180"));
    assert_eq!(conv("1", "h", "min"), dec("60"));
    assert!(canonical("g").unwrap().is_commensurable(&canonical("[lb_av]").unwrap()));
    assert!(!canonical("g").unwrap().is_commensurable(&canonical("m").unwrap()));
}

#[test]
fn search_indexes_in_canonical_units() {
    assert_eq!(to_canonical(dec("6"), "g").unwrap(), (dec("6"), "g".to_owned()));
    assert_eq!(to_canonical(dec("5"), "mg").unwrap(), (dec("0.005"), "g".to_owned()));
    // gt5000mg matches 6 g.
    let (query, query_unit) = to_canonical(dec("5000"), "mg").unwrap();
    let (stored, stored_unit) = to_canonical(dec("6"), "g").unwrap();
    assert_eq!(query_unit, stored_unit);
    assert!(stored > query);
    assert_eq!(to_canonical(dec("2"), "mmol/L").unwrap().1, "m-3");
    assert_eq!(to_canonical(dec("-3"), "km").unwrap(), (dec("-3000"), "m".to_owned()));
}

#[test]
fn mercury_and_water_columns() {
    assert_eq!(conv("1", "mm[Hg]", "Pa"), dec("133.322"));
    assert_eq!(conv("1", "m[Hg]", "g.s-2.m-1"), dec("133322000"));
    assert_eq!(unit_text("mm[Hg]"), "m-1.s-2.g");
    assert_eq!(factor("mm[Hg]"), dec("133322"));
    assert_eq!(conv("1", "atm", "Pa"), dec("101325"));
    assert_eq!(conv("1", "cm[H2O]", "Pa"), dec("98.0665"));
}

#[test]
fn clinical_chemistry_units() {
    assert_eq!(factor("mol"), dec("602213670000000000000000"));
    assert_eq!(canonical("eq").unwrap(), canonical("mol").unwrap());
    assert_eq!(conv("1", "mmol/L", "umol/mL"), Decimal::ONE);
    assert_eq!(conv("1", "osm", "mosm"), dec("1000"));
    assert_eq!(conv("1", "g/dL", "mg/mL"), dec("10"));
    assert_eq!(conv("1", "g%", "g/dL"), Decimal::ONE);
    assert_eq!(conv("1", "kat", "mol/s"), Decimal::ONE);
    assert_eq!(conv("60", "U", "umol/h"), dec("3600"));
}

#[test]
fn arbitrary_units_convert_only_among_themselves() {
    assert_eq!(conv("2", "m[iU]/mL", "[iU]/L"), dec("2"));
    assert_eq!(conv("2", "[iU]/mL", "[iU]/L"), dec("2000"));
    assert_eq!(conv("1", "[IU]", "[iU]"), Decimal::ONE);
    assert_eq!(conv("5", "k[IU]", "[iU]"), dec("5000"));
    assert_eq!(
        to_canonical(dec("2"), "m[iU]/mL").unwrap(),
        (dec("2000"), "m-3.[iU]".to_owned())
    );
    for (from, to) in [("[iU]", "1"), ("[iU]", "%"), ("[iU]", "[CFU]"), ("[CFU]/mL", "/mL")] {
        assert_eq!(
            convert(Decimal::ONE, from, to),
            Err(UcumError::NotCommensurable {
                from: from.into(),
                to: to.into()
            })
        );
    }
    assert_eq!(
        canonical("[iU]/L"),
        Err(UcumError::ArbitraryUnit { unit: "[iU]/L".into() })
    );
    assert!(is_valid("[iU]/L"));
}

#[test]
fn temperatures_convert_with_their_offsets() {
    assert_eq!(conv("100", "Cel", "[degF]"), dec("212"));
    assert_eq!(conv("212", "[degF]", "Cel"), dec("100"));
    assert_eq!(conv("98.6", "[degF]", "Cel"), dec("37"));
    assert_eq!(conv("-40", "Cel", "[degF]"), dec("-40"));
    assert_eq!(conv("0", "K", "Cel"), dec("-273.15"));
    assert_eq!(conv("37", "Cel", "K"), dec("310.15"));
    assert_eq!(conv("1", "Cel", "mK"), dec("274150"));
    assert_eq!(conv("37000", "mCel", "Cel"), dec("37"));
    assert_eq!(conv("80", "[degRe]", "Cel"), dec("100"));
    assert_eq!(conv("491.67", "[degR]", "Cel"), Decimal::ZERO);
    assert_eq!(conv("36.6", "Cel{oral}", "Cel"), dec("36.6"));
    assert_eq!(to_canonical(dec("37"), "Cel").unwrap(), (dec("310.15"), "K".to_owned()));
    assert_eq!(
        to_canonical(dec("32"), "[degF]").unwrap(),
        (dec("273.15"), "K".to_owned())
    );
    assert!(matches!(canonical("Cel"), Err(UcumError::SpecialUnit { .. })));
    assert_eq!(
        convert(Decimal::ONE, "Cel", "m"),
        Err(UcumError::NotCommensurable {
            from: "Cel".into(),
            to: "m".into()
        })
    );
}

#[test]
fn other_special_units_are_valid_but_do_not_convert() {
    for unit in [
        "[pH]",
        "B[SPL]",
        "Np",
        "dB",
        "[p'diop]",
        "%[slope]",
        "[hp'_X]",
        "bit_s",
        "[m/s2/Hz^(1/2)]",
    ] {
        assert!(is_valid(unit), "{unit}");
        assert!(matches!(canonical(unit), Err(UcumError::SpecialUnit { .. })), "{unit}");
    }
    assert!(matches!(
        convert(dec("7"), "[pH]", "[pH]"),
        Err(UcumError::SpecialUnit { .. })
    ));
    assert!(matches!(
        to_canonical(dec("7"), "[pH]"),
        Err(UcumError::SpecialUnit { .. })
    ));
    // Special units inside larger expressions are valid syntax but not reducible.
    assert!(is_valid("Cel/s"));
    assert!(matches!(canonical("Cel/s"), Err(UcumError::SpecialUnit { .. })));
    assert!(matches!(
        convert(Decimal::ONE, "Cel2", "K2"),
        Err(UcumError::SpecialUnit { .. })
    ));
}

#[test]
fn incommensurable_units_are_refused() {
    assert_eq!(
        convert(Decimal::ONE, "g", "m"),
        Err(UcumError::NotCommensurable {
            from: "g".into(),
            to: "m".into()
        })
    );
    assert!(matches!(
        convert(Decimal::ONE, "mg/dL", "mmol/L"),
        Err(UcumError::NotCommensurable { .. })
    ));
    assert!(matches!(
        convert(Decimal::ONE, "kg", "N"),
        Err(UcumError::NotCommensurable { .. })
    ));
}

#[test]
fn invalid_expressions_report_where() {
    let cases: [(&str, UcumError); 6] = [
        (
            "mg/xyz",
            UcumError::UnknownUnit {
                unit: "xyz".into(),
                position: 3,
            },
        ),
        (
            "iU",
            UcumError::UnknownUnit {
                unit: "iU".into(),
                position: 0,
            },
        ),
        (
            "g/12h",
            UcumError::Syntax {
                message: "expected '.', '/' or the end, found 'h'".into(),
                position: 4,
            },
        ),
        (
            "m/",
            UcumError::Syntax {
                message: "expected a unit, a number, '{' or '(' at the end".into(),
                position: 2,
            },
        ),
        (
            "",
            UcumError::Syntax {
                message: "empty unit expression".into(),
                position: 0,
            },
        ),
        (
            "kg{x",
            UcumError::Syntax {
                message: "unterminated '{'".into(),
                position: 2,
            },
        ),
    ];
    for (unit, expected) in cases {
        assert_eq!(canonical(unit), Err(expected.clone()), "{unit}");
        assert_eq!(convert(Decimal::ONE, unit, "g"), Err(expected.clone()), "{unit}");
        assert_eq!(to_canonical(Decimal::ONE, unit), Err(expected), "{unit}");
        assert!(!is_valid(unit), "{unit}");
    }
    let message = canonical("mg/xyz").unwrap_err().to_string();
    assert_eq!(message, "unknown UCUM unit 'xyz' at 3");
}

#[test]
fn validity() {
    let valid = [
        "m",
        "/m",
        "10*3/ul",
        "10*-3/ul",
        "10*+3/ul",
        "mg/dL",
        "mmol/L",
        "%",
        "{score}",
        "rad2{a}",
        "{a}.rad2{b}",
        "1{c}",
        "[in_i]",
        "[lb_av]",
        "[iU]",
        "m[iU]/mL",
        "[ppm]",
        "mm[Hg]",
        "cm[H2O]",
        "kg/m2",
        "mL/min/{1.73_m2}",
        "[beth'U]",
        "10.uN.s/(cm5.m2)",
        "Cel",
        "[degF]",
        "[pH]",
        "Torr",
        "[IR]",
        "[degRe]",
        "KiBy",
        "dB",
        "{}",
        "mo",
        "a",
        "wk",
        "[HPF]",
        "[CFU]/mL",
        "eq/L",
        "ng/mL",
        "U/L",
        "[drp]",
        "[tbs_us]",
        "[arb'U]",
        "kat/kg",
    ];
    for unit in valid {
        assert!(is_valid(unit), "{unit}");
    }
    let invalid = [
        "",
        "m/",
        "10+3/ul",
        "rad2{錠}",
        "{a}rad2{b}",
        "{|}1",
        "iU",
        "molv",
        "[BETH'U]",
        "[iIU]",
        "g/12h",
        "mmol/kg[H20]",
        "cm[H20]",
        "ug(8.h)",
        "ug(8hr)",
        "k[in_i]",
        "m s",
        "mg/",
        "(mg",
        "mg)",
        "0",
        "m-",
        "[in_i",
        "kg{x",
        "10*",
        "Ki",
        "mg.",
        "..",
        "m//s",
        "{a{b}}",
    ];
    for unit in invalid {
        if unit == "10*" {
            // The number ten alone is a valid (if odd) expression.
            assert!(is_valid(unit));
            continue;
        }
        assert!(!is_valid(unit), "{unit}");
    }
}

#[test]
fn canonical_text_is_valid_ucum_and_round_trips() {
    for unit in [
        "N",
        "mm[Hg]",
        "10*3/uL",
        "J/s",
        "[lb_av]/[in_i]2",
        "{score}",
        "cd/m2",
        "C/kg",
        "Ohm",
        "mol/L",
    ] {
        let c = canonical(unit).unwrap();
        let again = canonical(&c.unit()).unwrap();
        assert_eq!(again.dimensions, c.dimensions, "{unit}");
        assert_eq!(again.factor, Decimal::ONE, "{unit}");
    }
}

#[test]
fn out_of_range_is_an_error_not_a_panic() {
    // mol/mL is 6.02e29 per m3, beyond a Decimal; the ratio to mmol/L is not.
    assert_eq!(
        canonical("mol/mL"),
        Err(UcumError::OutOfRange { unit: "mol/mL".into() })
    );
    assert_eq!(conv("1", "mol/mL", "mmol/L"), dec("1000000"));
    // Planck's constant is 6.6e-31 g.m2/s: too small to keep its digits.
    assert!(matches!(canonical("[h]"), Err(UcumError::OutOfRange { .. })));
    assert_eq!(conv("2", "[h]", "[h]"), dec("2"));
    assert_eq!(conv("1", "ym3", "zm3"), dec("0.000000001"));
    assert!(matches!(
        convert(Decimal::MAX, "km", "mm"),
        Err(UcumError::OutOfRange { .. })
    ));
    assert!(matches!(canonical("10*999999999"), Err(UcumError::OutOfRange { .. })));
    assert!(matches!(canonical("m127.m"), Err(UcumError::OutOfRange { .. })));
    assert_eq!(canonical("m127").unwrap().dimensions[0], 127);
    assert!(matches!(
        canonical("10*999999999.10*999999999.10*999999999"),
        Err(UcumError::OutOfRange { .. })
    ));
    assert!(matches!(
        canonical("m999999999.m999999999.m999999999"),
        Err(UcumError::OutOfRange { .. })
    ));
    assert!(matches!(
        convert(Decimal::MAX, "Cel", "K"),
        Err(UcumError::OutOfRange { .. })
    ));
}

/// A small deterministic generator (xorshift), so the fuzz tests need no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn exercise(unit: &str) {
    let valid = is_valid(unit);
    let reduced = canonical(unit);
    if let Ok(c) = &reduced {
        assert!(valid, "{unit}");
        let _ = c.unit();
    }
    let _ = to_canonical(dec("-12.5"), unit);
    let _ = convert(dec("3.3"), unit, unit);
    let _ = convert(Decimal::MAX, unit, "m");
    let _ = convert(Decimal::MIN, "g", unit);
}

#[test]
fn random_strings_never_panic() {
    let alphabet: Vec<char> = "mgsLkKCel[]{}().//-+*^0123456789_'%uMiIUd錠 \t\u{0}".chars().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let len = (rng.next() % 16) as usize;
        let unit: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
        exercise(&unit);
    }
}

#[test]
fn random_well_formed_expressions_convert_both_ways() {
    let atoms = [
        "m", "g", "s", "L", "mol", "[in_i]", "[lb_av]", "%", "10*3", "{x}", "[iU]", "h", "Pa", "mm[Hg]", "eq", "By",
        "[ft_i]", "N", "J", "min", "Cel", "[degF]", "[pH]", "K",
    ];
    let prefixes = ["", "", "", "k", "m", "u", "c", "da", "Ki"];
    let exponents = ["", "", "", "2", "-1", "3", "-2"];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..5_000 {
        let mut unit = String::new();
        for i in 0..=(rng.next() % 3) {
            if i > 0 {
                unit.push(if rng.next() % 2 == 0 { '.' } else { '/' });
            }
            let atom = rng.pick(&atoms);
            let prefixed = format!("{}{atom}", rng.pick(&prefixes));
            let atom = if is_valid(&prefixed) { prefixed } else { atom.to_owned() };
            unit.push_str(&atom);
            if !atom.starts_with('{') && !atom.starts_with("10*") {
                unit.push_str(rng.pick(&exponents));
            }
        }
        exercise(&unit);
        let value = dec("12.5");
        if let Ok((base, base_unit)) = to_canonical(value, &unit) {
            assert!(is_valid(&base_unit), "{unit} -> {base_unit}");
            // Back from canonical units: a tiny base value keeps as few as 10
            // significant digits (Decimal stops at 28 decimal places).
            if let Ok(back) = convert(base, &base_unit, &unit) {
                let error = (back - value).abs() / value;
                assert!(error < dec("0.000000001"), "{unit}: {back}");
            }
        }
    }
}
