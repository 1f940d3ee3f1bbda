//! Tests of the scalar functions in `func`.

use super::*;

fn text_of(d: Datum) -> String {
    format_datum(&d, ScalarType::Text).unwrap()
}

#[test]
fn case_mapping_is_one_for_one_as_in_a_utf8_locale() {
    assert_eq!(text_of(UnaryFunc::Upper.eval(Datum::text("ünï straße")).unwrap()), "ÜNÏ STRAßE");
    assert_eq!(text_of(UnaryFunc::Lower.eval(Datum::text("ÀB İ")).unwrap()), "àb i");
    assert_eq!(text_of(UnaryFunc::InitCap.eval(Datum::text("hello wörld foo_bar 2nd")).unwrap()), "Hello Wörld Foo_Bar 2nd");
}

#[test]
fn negating_a_float_flips_its_sign() {
    assert_eq!(text_of(UnaryFunc::Neg(ScalarType::Float64).eval(Datum::float(0.0)).unwrap()), "-0");
    assert_eq!(text_of(UnaryFunc::Neg(ScalarType::Int32).eval(Datum::Int(5)).unwrap()), "-5");
}

fn num(s: &str) -> Datum {
    Datum::Numeric(Decimal::from_str_exact(s).unwrap())
}

fn lit(d: Datum) -> ScalarExpr {
    ScalarExpr::Literal(d, ScalarType::Text)
}

#[test]
fn round_and_trunc_accept_any_scale() {
    let r = |x: Datum, n: i64| BinaryFunc::Round.eval(x, Datum::Int(n)).map(text_of);
    let t = |x: Datum, n: i64| BinaryFunc::Trunc.eval(x, Datum::Int(n)).map(text_of);
    // These panicked (10^n overflowed, then a division by zero).
    assert_eq!(r(num("1.5"), -100).unwrap(), "0");
    assert_eq!(t(num("1.5"), -100).unwrap(), "0");
    assert_eq!(r(num("1.5"), i32::MIN as i64).unwrap(), "0");
    assert_eq!(r(num("-1.5"), i64::MIN).unwrap(), "0");
    assert_eq!(r(num("1.5"), -19).unwrap(), "0");
    // A scale beyond numeric's 28 digits keeps the value.
    assert_eq!(r(num("1.5"), 100).unwrap(), "1.5000000000000000000000000000");
    assert_eq!(t(num("1.5"), i64::MAX).unwrap(), "1.5000000000000000000000000000");
    assert_eq!(r(num("12345678901234567890.5"), 28).unwrap(), "12345678901234567890.500000000");
    assert_eq!(r(num("1.25"), 1).unwrap(), "1.3");
    assert_eq!(t(num("1.25"), 1).unwrap(), "1.2");
    assert_eq!(r(num("1.5"), 0).unwrap(), "2");
    // Negative scales round to tens, hundreds, ... exactly, half away from zero.
    assert_eq!(r(num("1234.5678"), -2).unwrap(), "1200");
    assert_eq!(t(num("-1234.5678"), -2).unwrap(), "-1200");
    assert_eq!(r(num("1250"), -2).unwrap(), "1300");
    assert_eq!(r(num("-1250"), -2).unwrap(), "-1300");
    assert_eq!(r(num("-0.4"), -1).unwrap(), "0");
    assert_eq!(r(num("4.9999999999999999999999999999"), -1).unwrap(), "0");
    assert_eq!(r(num("49228162514264337593543950335"), -29).unwrap(), "0");
    assert_eq!(r(num("79228162514264337593543950335"), -27).unwrap(), "79000000000000000000000000000");
    // Up to a value numeric cannot hold: 22003, not a panic.
    assert_eq!(r(num("79228162514264337593543950335"), -28).unwrap_err().code, "22003");
    assert_eq!(r(num("79228162514264337593543950335"), -29).unwrap_err().code, "22003");
    // Integers round as the numeric they convert to.
    assert_eq!(r(Datum::Int(15), -1).unwrap(), "20");
    assert_eq!(t(Datum::Int(-15), -1).unwrap(), "-10");
    assert_eq!(r(Datum::Int(15), 2).unwrap(), "15");
    assert_eq!(r(Datum::Int(15), -100).unwrap(), "0");
    assert_eq!(r(Datum::Int(i64::MAX), -1).unwrap_err().code, "22003");
    // Floats: no infinities or NaN from 10^n.
    assert_eq!(r(Datum::float(1.5), -400).unwrap(), "0");
    assert_eq!(r(Datum::float(1.25), 400).unwrap(), "1.25");
    assert_eq!(r(Datum::float(1e300), 10).unwrap(), "1e+300");
    assert_eq!(r(Datum::float(1.25), 1).unwrap(), "1.2");
}

#[test]
fn power_and_exp_errors_follow_postgres() {
    let pow = |a: Datum, b: Datum| BinaryFunc::Power.eval(a, b);
    assert_eq!(pow(Datum::float(0.0), Datum::float(-1.0)).unwrap_err().code, "2201F");
    assert_eq!(pow(num("0"), num("-1")).unwrap_err().code, "2201F");
    assert_eq!(pow(Datum::float(-8.0), Datum::float(0.5)).unwrap_err().code, "2201F");
    assert_eq!(pow(num("-8"), num("0.5")).unwrap_err().code, "2201F");
    assert_eq!(pow(Datum::float(10.0), Datum::float(400.0)).unwrap_err().code, "22003");
    assert_eq!(pow(Datum::float(10.0), Datum::float(-400.0)).unwrap_err().code, "22003");
    assert_eq!(pow(num("10"), num("40")).unwrap_err().code, "22003");
    assert_eq!(text_of(pow(Datum::float(-8.0), Datum::float(3.0)).unwrap()), "-512");
    assert_eq!(text_of(pow(Datum::Int(2), Datum::Int(10)).unwrap()), "1024");
    assert_eq!(pow(Datum::Int(2), Datum::Int(10)).unwrap(), Datum::float(1024.0));
    assert_eq!(text_of(pow(num("2"), Datum::Int(3)).unwrap()), "8");
    assert_eq!(UnaryFunc::Exp.eval(Datum::float(1000.0)).unwrap_err().code, "22003");
    assert_eq!(UnaryFunc::Exp.eval(Datum::float(-1000.0)).unwrap_err().code, "22003");
    assert_eq!(text_of(UnaryFunc::Exp.eval(Datum::float(f64::NEG_INFINITY)).unwrap()), "0");
    // numeric exp beyond 28 digits was silently 0.
    assert_eq!(UnaryFunc::Exp.eval(num("70")).unwrap_err().code, "22003");
    assert_eq!(UnaryFunc::Exp.eval(num("1000")).unwrap_err().code, "22003");
    // numeric exp has PostgreSQL's scale; one needing more than 28 places is refused.
    assert_eq!(text_of(UnaryFunc::Exp.eval(num("0")).unwrap()), "1.0000000000000000");
    assert_eq!(text_of(UnaryFunc::Exp.eval(num("10")).unwrap()), "22026.465794806717");
    assert_eq!(UnaryFunc::Exp.eval(num("-1000")).unwrap_err().code, "0A000");
}

#[test]
fn string_builders_refuse_results_over_a_gigabyte() {
    let repeat = |s: &str, n: i64| BinaryFunc::Repeat.eval(Datum::text(s), Datum::Int(n));
    // These built multi-gigabyte strings.
    assert_eq!(repeat("x", 2_000_000_000).unwrap_err().code, "54000");
    assert_eq!(repeat("ab", (MAX_TEXT_BYTES / 2 + 1) as i64).unwrap_err().code, "54000");
    assert_eq!(repeat("abc", i64::MAX).unwrap_err().code, "54000");
    assert_eq!(text_of(repeat("", i64::MAX).unwrap()), "");
    assert_eq!(text_of(repeat("ab", 3).unwrap()), "ababab");
    assert_eq!(text_of(repeat("ab", -3).unwrap()), "");
    let pad = |f: VariadicFunc, args: Vec<Datum>| f.eval(&args.into_iter().map(lit).collect::<Vec<_>>(), &[]);
    for f in [VariadicFunc::Lpad, VariadicFunc::Rpad] {
        assert_eq!(pad(f, vec![Datum::text("x"), Datum::Int(2_000_000_000)]).unwrap_err().code, "54000");
        assert_eq!(pad(f, vec![Datum::text("x"), Datum::Int(300_000_000), Datum::text("y")]).unwrap_err().code, "54000");
        assert_eq!(pad(f, vec![Datum::text("x"), Datum::Int(i64::MAX)]).unwrap_err().code, "54000");
        // Nothing to pad with: the string as it is, whatever the length.
        assert_eq!(text_of(pad(f, vec![Datum::text("x"), Datum::Int(2_000_000_000), Datum::text("")]).unwrap()), "x");
        assert_eq!(text_of(pad(f, vec![Datum::text("héllo"), Datum::Int(3)]).unwrap()), "hél");
        assert_eq!(text_of(pad(f, vec![Datum::text("hi"), Datum::Int(-1)]).unwrap()), "");
    }
    assert_eq!(text_of(pad(VariadicFunc::Lpad, vec![Datum::text("hi"), Datum::Int(5), Datum::text("xy")]).unwrap()), "xyxhi");
    assert_eq!(text_of(pad(VariadicFunc::Rpad, vec![Datum::text("hi"), Datum::Int(5), Datum::text("xy")]).unwrap()), "hixyx");
    assert_eq!(text_of(pad(VariadicFunc::Lpad, vec![Datum::text("hi"), Datum::Int(4)]).unwrap()), "  hi");
    let big = "b".repeat(2_000_000);
    let replace = pad(VariadicFunc::Replace, vec![Datum::text("a".repeat(1000)), Datum::text("a"), Datum::text(&big)]);
    assert_eq!(replace.unwrap_err().code, "54000");
    assert_eq!(text_of(pad(VariadicFunc::Replace, vec![Datum::text("abca"), Datum::text("a"), Datum::text("xy")]).unwrap()), "xybcxy");
}

#[test]
fn justify_and_make_functions_are_reachable() {
    let iv = Datum::Interval(Interval { months: 0, days: 35, micros: 0 });
    assert_eq!(text_of(UnaryFunc::JustifyDays.eval(iv).unwrap()), "1 mon 5 days");
    let args = [2024, 2, 29].map(|v| ScalarExpr::Literal(Datum::Int(v), ScalarType::Int32)).to_vec();
    assert_eq!(text_of(VariadicFunc::MakeDate.eval(&args, &[]).unwrap()), "2024-02-29");
}
