//! What DataFusion's planner needs to know about PostgreSQL's functions,
//! operators and types that it lacks or types differently.
//!
//! DataFusion only plans here: these functions declare signatures and
//! result types, and the engine evaluates them ([`super::expr`] maps each
//! name onto an engine function). They are never executed by DataFusion.
//!
//! * functions DataFusion does not have: `mod`, `make_timestamp`,
//!   `make_interval`, `justify_days`, `justify_hours`, `justify_interval`,
//!   `md5`, `format`, `age`, `to_json[b]`, `json[b]_build_array`,
//!   `quote_ident`, `substring(text from pattern)` and the jsonb
//!   functions `jsonb_set`, `jsonb_insert`, `jsonb_extract_path[_text]`,
//!   `jsonb_strip_nulls` and `jsonb_pretty`;
//! * `log`, `log10` and `ln`, numeric of a numeric (DataFusion computes in
//!   double precision), and `log(base, x)` numeric only;
//! * `to_char` of timestamps and of numbers;
//! * `date_trunc`, typed as PostgreSQL types it (a date is truncated as a
//!   timestamptz); `date_part` (double precision) apart from `extract`
//!   (numeric), which DataFusion plans alike;
//! * operators DataFusion refuses or types differently ([`PgExprPlanner`]):
//!   `interval * number`, `interval / number`, `interval <op> 'text'`,
//!   `date ± interval` (a timestamp, not a date);
//! * the `jsonb` / `json` type names ([`PgTypePlanner`]): text carrying
//!   the `eddy.type = jsonb` field metadata.

use crate::types::{TYPE_METADATA_KEY, UNCONSTRAINED_NUMERIC};
use arrow_schema::{DataType, Field, FieldRef, IntervalUnit, TimeUnit};
use datafusion_common::{internal_err, not_impl_err, plan_err, DFSchema, Result};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr, RawFieldAccessExpr, TypePlanner};
use super::pg_arrays;
use datafusion_expr::{Cast, ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use sqlparser::ast::BinaryOperator;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// Name of the function `interval * number` is planned as.
pub const INTERVAL_MUL: &str = "__eddy_interval_mul";
/// Name of the function `interval / number` is planned as.
pub const INTERVAL_DIV: &str = "__eddy_interval_div";
/// Name of the function `extract(field FROM value)` is planned as (numeric;
/// `date_part` is double precision).
pub const EXTRACT: &str = "__eddy_extract";
/// Names of the functions `json -> key` and `json ->> key` are planned as.
pub const JSON_GET: &str = "__eddy_json_get";
pub const JSON_GET_TEXT: &str = "__eddy_json_get_text";
/// Name of the function `substring(text from pattern)` is planned as.
pub const SUBSTRING_REGEX: &str = "__eddy_substring_regex";
/// Name of the function `jsonb || jsonb` is planned as.
pub const JSONB_CONCAT: &str = "__eddy_jsonb_concat";
/// Names of the functions `jsonb ? key`, `jsonb @> jsonb`, `jsonb #> path`
/// and `jsonb #>> path` are planned as.
pub const JSONB_EXISTS: &str = "__eddy_jsonb_exists";
pub const JSONB_CONTAINS: &str = "__eddy_jsonb_contains";
pub const JSON_PATH: &str = "__eddy_json_path";
pub const JSON_PATH_TEXT: &str = "__eddy_json_path_text";
/// Names of the functions `jsonb - key`, `jsonb - index` and
/// `jsonb #- path` are planned as.
pub const JSONB_DELETE: &str = "__eddy_jsonb_delete";
pub const JSONB_DELETE_PATH: &str = "__eddy_jsonb_delete_path";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Mod,
    MakeTimestamp,
    MakeInterval,
    Justify,
    IntervalScale,
    DateTrunc,
    /// `date_part` (double precision) and `extract` (numeric).
    DatePart { numeric: bool },
    /// `->` and `->>`: a field by name or an element by index.
    JsonGet,
    JsonbArrayLength,
    /// `jsonb || jsonb`.
    JsonbConcat,
    /// `?` and `@>`: a boolean of two jsonb (or key) operands.
    JsonbTest,
    /// `#>` and `#>>`: a value at a path.
    JsonPath,
    JsonbTypeof,
    /// `jsonb_build_object(k, v, ...)`: any number of arguments.
    JsonbBuildObject,
    /// `x AT TIME ZONE z`: a timestamptz's wall-clock time, or a
    /// timestamp's instant.
    AtTimeZone,
    /// `regexp_replace(text, pattern, replacement [, flags])`.
    RegexpReplace,
    /// `to_timestamp(seconds since 1970)`.
    ToTimestamp,
    /// `to_char(timestamp, template)`.
    ToChar,
    /// `md5(text)`.
    Md5,
    /// `format(template, args...)`: any arguments after the template.
    Format,
    /// `age(a, b)` and `age(a)`: timestamps, an interval.
    Age,
    /// `to_json(x)` and `to_jsonb(x)`.
    ToJsonb,
    /// `jsonb_build_array(v, ...)`.
    JsonbBuildArray,
    /// `substring(text from pattern)`.
    RegexpSubstring,
    /// `gen_random_uuid()`.
    GenRandomUuid,
    /// `pg_typeof(x)`: the planner answers it from x's type.
    PgTypeof,
    /// `log(x)`, `log10(x)`, `ln(x)` (double precision, or numeric of a
    /// numeric) and `log(base, x)` (numeric only, as in PostgreSQL).
    Log,
    /// `quote_ident(text)`.
    QuoteIdent,
    /// `jsonb_set` and `jsonb_insert`: a jsonb, a path, a jsonb and an
    /// optional boolean.
    JsonbSetPath,
    /// `jsonb_extract_path[_text](json, VARIADIC text)`.
    JsonbExtractPath,
    /// `width_bucket(x, low, high, count)` (double precision).
    WidthBucket,
    /// `to_date(text, format)`.
    ToDate,
    /// `num_nulls` and `num_nonnulls`: any arguments, an integer.
    NumNulls,
    /// `pg_size_pretty(bigint)`.
    SizePretty,
    /// `div(a, b)`: the truncated quotient, numeric.
    Div,
    /// `make_timestamptz(y, m, d, h, mi, s [, zone])`.
    MakeTimestampTz,
}

/// A PostgreSQL function as DataFusion plans it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgFunction {
    name: &'static str,
    kind: Kind,
    signature: Signature,
}

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);

fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

fn int_rank(t: &DataType) -> Option<u8> {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Some(1),
        DataType::Int32 | DataType::UInt16 => Some(2),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 | DataType::Null => Some(3),
        _ => None,
    }
}

fn is_decimal(t: &DataType) -> bool {
    matches!(t, DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..))
}

impl PgFunction {
    fn new(name: &'static str, kind: Kind) -> Self {
        let signature = if kind == Kind::GenRandomUuid { Signature::nullary(Volatility::Volatile) } else { Signature::user_defined(Volatility::Immutable) };
        PgFunction { name, kind, signature }
    }

    fn arity(&self) -> usize {
        match self.kind {
            Kind::Mod | Kind::ToChar | Kind::IntervalScale | Kind::DateTrunc | Kind::DatePart { .. } | Kind::JsonGet | Kind::AtTimeZone | Kind::JsonbConcat | Kind::JsonbTest | Kind::JsonPath | Kind::RegexpSubstring => 2,
            Kind::JsonbSetPath | Kind::JsonbExtractPath => usize::MAX,
            Kind::JsonbTypeof | Kind::ToTimestamp | Kind::Md5 | Kind::ToJsonb | Kind::PgTypeof | Kind::QuoteIdent => 1,
            Kind::GenRandomUuid => 0,
            Kind::JsonbBuildObject | Kind::RegexpReplace | Kind::Format | Kind::Age | Kind::JsonbBuildArray | Kind::Log => usize::MAX,
            Kind::JsonbArrayLength => 1,
            Kind::MakeTimestamp => 6,
            Kind::WidthBucket => 4,
            Kind::ToDate | Kind::Div => 2,
            Kind::SizePretty => 1,
            Kind::NumNulls | Kind::MakeTimestampTz => usize::MAX,
            Kind::MakeInterval => 7,
            Kind::Justify => 1,
        }
    }
}

impl ScalarUDFImpl for PgFunction {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let untyped_as_text = |args: &[DataType]| args.iter().map(|t| if matches!(t, DataType::Null) { DataType::Utf8 } else { t.clone() }).collect::<Vec<_>>();
        if matches!(self.kind, Kind::JsonbBuildObject | Kind::JsonbBuildArray) {
            return Ok(untyped_as_text(args));
        }
        if self.kind == Kind::Format {
            if args.is_empty() {
                return plan_err!("function format() takes at least 1 argument");
            }
            return Ok([vec![DataType::Utf8], untyped_as_text(&args[1..])].concat());
        }
        if self.kind == Kind::Age {
            if !(1..=2).contains(&args.len()) {
                return plan_err!("function age() takes 1 or 2 arguments, {} given", args.len());
            }
            // Both sides as timestamptz if either is, else as timestamp
            // (a date is the timestamp of its midnight).
            let t = if args.iter().any(|t| matches!(t, DataType::Timestamp(_, Some(_)))) { timestamptz() } else { DataType::Timestamp(TimeUnit::Microsecond, None) };
            return Ok(vec![t; args.len()]);
        }
        if self.kind == Kind::DateTrunc && args.len() == 3 {
            return Ok(vec![DataType::Utf8, timestamptz(), DataType::Utf8]);
        }
        if self.kind == Kind::RegexpReplace {
            if !(3..=4).contains(&args.len()) {
                return plan_err!("function {}() takes 3 or 4 arguments, {} given", self.name, args.len());
            }
            return Ok(vec![DataType::Utf8; args.len()]);
        }
        if self.kind == Kind::Log {
            return log_types(self.name, args);
        }
        if self.kind == Kind::JsonbSetPath {
            if !(3..=4).contains(&args.len()) {
                return plan_err!("function {}() takes 3 or 4 arguments, {} given", self.name, args.len());
            }
            return Ok([vec![DataType::Utf8; 3], vec![DataType::Boolean; args.len() - 3]].concat());
        }
        if self.kind == Kind::JsonbExtractPath {
            if args.len() < 2 {
                return plan_err!("function {}() takes at least 2 arguments, {} given", self.name, args.len());
            }
            return Ok(vec![DataType::Utf8; args.len()]);
        }
        if self.kind == Kind::NumNulls {
            if args.is_empty() {
                return plan_err!("function {}() does not exist", self.name);
            }
            return Ok(args.iter().map(|t| if matches!(t, DataType::Null) { DataType::Utf8 } else { t.clone() }).collect());
        }
        if self.kind == Kind::MakeTimestampTz {
            if !(6..=7).contains(&args.len()) {
                return plan_err!("function make_timestamptz() takes 6 or 7 arguments, {} given", args.len());
            }
            return Ok([vec![DataType::Int32; 5], vec![DataType::Float64], vec![DataType::Utf8; args.len() - 6]].concat());
        }
        if self.kind == Kind::ToTimestamp && args.len() == 2 {
            return Ok(vec![DataType::Utf8, DataType::Utf8]);
        }
        if args.len() != self.arity() {
            return plan_err!("function {}() takes {} arguments, {} given", self.name, self.arity(), args.len());
        }
        Ok(match self.kind {
            Kind::Mod => {
                if let (Some(a), Some(b)) = (int_rank(&args[0]), int_rank(&args[1])) {
                    let t = if a.max(b) == 1 { DataType::Int16 } else if a.max(b) == 2 { DataType::Int32 } else { DataType::Int64 };
                    vec![t.clone(), t]
                } else if args.iter().any(|t| matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64)) {
                    vec![DataType::Float64, DataType::Float64]
                } else {
                    // numeric: integers convert exactly, numerics keep their scale.
                    args.iter().map(|t| if is_decimal(t) { t.clone() } else { DataType::Decimal128(20, 0) }).collect()
                }
            }
            Kind::MakeTimestamp => [vec![DataType::Int32; 5], vec![DataType::Float64]].concat(),
            Kind::WidthBucket => vec![DataType::Float64, DataType::Float64, DataType::Float64, DataType::Int32],
            Kind::ToDate => vec![DataType::Utf8, DataType::Utf8],
            Kind::SizePretty => vec![DataType::Int64],
            Kind::Div => vec![DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1); 2],
            Kind::NumNulls | Kind::MakeTimestampTz => unreachable!("typed above"),
            Kind::MakeInterval => [vec![DataType::Int32; 6], vec![DataType::Float64]].concat(),
            Kind::Justify => vec![INTERVAL],
            Kind::IntervalScale => vec![INTERVAL, DataType::Float64],
            Kind::JsonGet => vec![DataType::Utf8, if int_rank(&args[1]).is_some() { DataType::Int64 } else { DataType::Utf8 }],
            Kind::JsonbArrayLength => vec![DataType::Utf8],
            Kind::JsonbConcat | Kind::JsonbTest | Kind::JsonPath => vec![DataType::Utf8, DataType::Utf8],
            Kind::JsonbTypeof => vec![DataType::Utf8],
            Kind::ToTimestamp => vec![DataType::Float64],
            Kind::ToChar => match &args[0] {
                t @ DataType::Timestamp(..) => vec![t.clone(), DataType::Utf8],
                DataType::Date32 | DataType::Utf8 | DataType::Null => vec![DataType::Timestamp(TimeUnit::Microsecond, None), DataType::Utf8],
                t if int_rank(t).is_some() => vec![DataType::Int64, DataType::Utf8],
                t @ (DataType::Float32 | DataType::Float64) => vec![t.clone(), DataType::Utf8],
                t if is_decimal(t) => vec![t.clone(), DataType::Utf8],
                _ => return not_impl_err!("to_char of intervals: format them with extract() and ||"),
            },
            Kind::JsonbBuildObject | Kind::RegexpReplace | Kind::Format | Kind::Age | Kind::JsonbBuildArray => args.to_vec(),
            Kind::Md5 | Kind::RegexpSubstring | Kind::QuoteIdent => vec![DataType::Utf8; args.len()],
            Kind::Log => unreachable!("typed by log_types"),
            Kind::JsonbSetPath | Kind::JsonbExtractPath => unreachable!("typed above"),
            Kind::GenRandomUuid => vec![],
            Kind::ToJsonb | Kind::PgTypeof => untyped_as_text(args),
            // A date is the timestamptz of its midnight (PostgreSQL's implicit cast).
            Kind::AtTimeZone => vec![if matches!(args[0], DataType::Timestamp(_, None)) { DataType::Timestamp(TimeUnit::Microsecond, None) } else { timestamptz() }, DataType::Utf8],
            Kind::DateTrunc | Kind::DatePart { .. } => {
                let arg = match &args[1] {
                    // timestamp - timestamp is a Duration to DataFusion; the engine holds an interval.
                    t @ (DataType::Timestamp(..) | DataType::Interval(_) | DataType::Duration(_)) => t.clone(),
                    _ => timestamptz(),
                };
                vec![DataType::Utf8, arg]
            }
        })
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Mod => match &args[0] {
                t if int_rank(t).is_some() || matches!(t, DataType::Float64) => t.clone(),
                _ => DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1),
            },
            Kind::MakeTimestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::ToTimestamp => timestamptz(),
            Kind::JsonGet | Kind::JsonbConcat | Kind::JsonPath | Kind::JsonbTypeof | Kind::JsonbBuildObject | Kind::RegexpReplace | Kind::ToChar => DataType::Utf8,
            Kind::Md5 | Kind::Format | Kind::ToJsonb | Kind::JsonbBuildArray | Kind::RegexpSubstring | Kind::GenRandomUuid | Kind::PgTypeof | Kind::QuoteIdent => DataType::Utf8,
            Kind::JsonbSetPath | Kind::JsonbExtractPath => DataType::Utf8,
            Kind::Log if args.len() == 1 && !is_decimal(&args[0]) => DataType::Float64,
            Kind::Log => DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1),
            Kind::Age => INTERVAL,
            Kind::JsonbTest => DataType::Boolean,
            Kind::JsonbArrayLength | Kind::WidthBucket => DataType::Int32,
            Kind::ToDate => DataType::Date32,
            Kind::NumNulls => DataType::Int32,
            Kind::SizePretty => DataType::Utf8,
            Kind::Div => DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1),
            Kind::MakeTimestampTz => timestamptz(),
            Kind::AtTimeZone => match &args[0] {
                DataType::Timestamp(_, None) => timestamptz(),
                _ => DataType::Timestamp(TimeUnit::Microsecond, None),
            },
            Kind::MakeInterval | Kind::Justify | Kind::IntervalScale => INTERVAL,
            Kind::DatePart { numeric: false } => DataType::Float64,
            Kind::DatePart { numeric: true } => DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1),
            Kind::DateTrunc => match args.get(1) {
                _ if args.len() == 3 => timestamptz(),
                Some(t @ (DataType::Timestamp(..) | DataType::Interval(_))) => t.clone(),
                _ => timestamptz(),
            },
        })
    }

    /// `->` gives jsonb, which travels as Utf8 marked with the jsonb
    /// metadata (so that clients see a jsonb column, not text).
    fn return_field_from_args(&self, args: datafusion_expr::ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
        let field = Field::new(self.name, self.return_type(&types)?, true);
        if self.kind == Kind::GenRandomUuid {
            return Ok(Arc::new(field.with_metadata(uuid_field().metadata().clone())));
        }
        let jsonb = [JSON_GET, JSONB_CONCAT, JSON_PATH, JSONB_DELETE, JSONB_DELETE_PATH, "jsonb_extract_path", "jsonb_strip_nulls"].contains(&self.name) || matches!(self.kind, Kind::JsonbBuildObject | Kind::JsonbBuildArray | Kind::ToJsonb | Kind::JsonbSetPath);
        Ok(Arc::new(if jsonb { field.with_metadata(HashMap::from([(TYPE_METADATA_KEY.to_string(), "jsonb".to_string())])) } else { field }))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        internal_err!("{}() is evaluated by eddy's engine, not DataFusion", self.name)
    }
}

/// The argument types of `log`, `log10` and `ln`: one argument is double
/// precision unless it is numeric; `log(base, x)` exists for numerics only
/// (integers convert to numeric, a double precision argument is refused).
fn log_types(name: &str, args: &[DataType]) -> Result<Vec<DataType>> {
    let float = |t: &DataType| matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64);
    match args {
        [t] if is_decimal(t) => Ok(vec![t.clone()]),
        [t] if float(t) || int_rank(t).is_some() || t == &DataType::Utf8 => Ok(vec![DataType::Float64]),
        [_, _] if name == "log" && !args.iter().any(float) && args.iter().all(|t| is_decimal(t) || int_rank(t).is_some()) => {
            Ok(args.iter().map(|t| if is_decimal(t) { t.clone() } else { DataType::Decimal128(20, 0) }).collect())
        }
        _ => {
            let names: Vec<String> = args.iter().map(crate::types::type_name_of_arrow).collect();
            plan_err!("function {}({}) does not exist", name, names.join(", "))
        }
    }
}

/// The functions to register with DataFusion's planner, by name (these
/// take precedence over DataFusion's functions of the same name).
pub fn pg_functions() -> Vec<(&'static str, Arc<ScalarUDF>)> {
    let defs = [
        ("mod", Kind::Mod),
        ("make_timestamp", Kind::MakeTimestamp),
        ("make_interval", Kind::MakeInterval),
        ("justify_days", Kind::Justify),
        ("justify_hours", Kind::Justify),
        ("justify_interval", Kind::Justify),
        (INTERVAL_MUL, Kind::IntervalScale),
        (INTERVAL_DIV, Kind::IntervalScale),
        ("date_trunc", Kind::DateTrunc),
        ("date_part", Kind::DatePart { numeric: false }),
        ("datepart", Kind::DatePart { numeric: false }),
        (EXTRACT, Kind::DatePart { numeric: true }),
        (JSON_GET, Kind::JsonGet),
        (JSON_GET_TEXT, Kind::JsonGet),
        ("jsonb_array_length", Kind::JsonbArrayLength),
        (crate::rewrite::AT_TIME_ZONE, Kind::AtTimeZone),
        (JSONB_CONCAT, Kind::JsonbConcat),
        (JSONB_EXISTS, Kind::JsonbTest),
        (JSONB_CONTAINS, Kind::JsonbTest),
        (JSON_PATH, Kind::JsonPath),
        (JSON_PATH_TEXT, Kind::JsonPath),
        ("jsonb_typeof", Kind::JsonbTypeof),
        ("jsonb_build_object", Kind::JsonbBuildObject),
        ("json_build_object", Kind::JsonbBuildObject),
        ("json_typeof", Kind::JsonbTypeof),
        ("json_array_length", Kind::JsonbArrayLength),
        ("regexp_replace", Kind::RegexpReplace),
        ("to_timestamp", Kind::ToTimestamp),
        ("to_char", Kind::ToChar),
        ("md5", Kind::Md5),
        ("format", Kind::Format),
        ("age", Kind::Age),
        ("to_json", Kind::ToJsonb),
        ("to_jsonb", Kind::ToJsonb),
        ("jsonb_build_array", Kind::JsonbBuildArray),
        ("json_build_array", Kind::JsonbBuildArray),
        (SUBSTRING_REGEX, Kind::RegexpSubstring),
        ("gen_random_uuid", Kind::GenRandomUuid),
        ("pg_typeof", Kind::PgTypeof),
        ("log", Kind::Log),
        ("log10", Kind::Log),
        ("ln", Kind::Log),
        // numeric in, numeric out; other numbers as double precision.
        ("sqrt", Kind::Log),
        ("exp", Kind::Log),
        ("quote_ident", Kind::QuoteIdent),
        (JSONB_DELETE, Kind::JsonGet),
        (JSONB_DELETE_PATH, Kind::JsonPath),
        ("jsonb_set", Kind::JsonbSetPath),
        ("jsonb_insert", Kind::JsonbSetPath),
        ("jsonb_extract_path", Kind::JsonbExtractPath),
        ("jsonb_extract_path_text", Kind::JsonbExtractPath),
        ("jsonb_strip_nulls", Kind::JsonbTypeof),
        ("jsonb_pretty", Kind::JsonbTypeof),
        ("width_bucket", Kind::WidthBucket),
        ("to_date", Kind::ToDate),
        ("num_nulls", Kind::NumNulls),
        ("num_nonnulls", Kind::NumNulls),
        ("pg_size_pretty", Kind::SizePretty),
        ("div", Kind::Div),
        ("make_timestamptz", Kind::MakeTimestampTz),
    ];
    defs.into_iter().map(|(name, kind)| (name, Arc::new(ScalarUDF::new_from_impl(PgFunction::new(name, kind))))).collect()
}

static PG_FUNCTIONS: LazyLock<HashMap<&'static str, Arc<ScalarUDF>>> = LazyLock::new(|| pg_functions().into_iter().collect());

/// Plans binary operators whose operand types DataFusion handles unlike
/// PostgreSQL (see the module doc).
#[derive(Debug, Default)]
pub struct PgExprPlanner;

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(PG_FUNCTIONS[name].clone(), args))
}

fn cast(e: Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e), to))
}

/// Whether `e` is text carrying the type mark `mark` (`jsonb`, `uuid`).
fn has_mark(e: &Expr, schema: &DFSchema, mark: &str) -> bool {
    e.to_field(schema).is_ok_and(|(_, f)| f.metadata().get(TYPE_METADATA_KEY).map(String::as_str) == Some(mark))
}

fn is_jsonb(e: &Expr, schema: &DFSchema) -> bool {
    has_mark(e, schema, "jsonb")
}

/// `left - right`, cast to the type PostgreSQL gives the difference.
fn difference(left: Expr, right: Expr, to: DataType) -> Expr {
    cast(Expr::BinaryExpr(datafusion_expr::BinaryExpr::new(Box::new(left), datafusion_expr::Operator::Minus, Box::new(right))), to)
}

/// A timestamp beside a timestamptz is cast to timestamptz (the session is
/// UTC), as PostgreSQL converts timestamp implicitly; other pairs stay.
fn meet_as_timestamptz(left: Expr, lt: &DataType, right: Expr, rt: &DataType) -> (Expr, Expr) {
    match (lt, rt) {
        (DataType::Timestamp(_, None), DataType::Timestamp(_, Some(_))) => (cast(left, timestamptz()), right),
        (DataType::Timestamp(_, Some(_)), DataType::Timestamp(_, None)) => (left, cast(right, timestamptz())),
        _ => (left, right),
    }
}

fn is_literal(e: &Expr) -> bool {
    matches!(e, Expr::Literal(..))
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

impl ExprPlanner for PgExprPlanner {
    fn plan_extract(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        Ok(PlannerResult::Planned(call(EXTRACT, args)))
    }

    /// `ARRAY[...]`; an integer literal that fits is an integer, as
    /// everywhere in eddy (`ARRAY[1, 2]` is integer[]).
    fn plan_array_literal(&self, exprs: Vec<Expr>, _schema: &DFSchema) -> Result<PlannerResult<Vec<Expr>>> {
        let exprs = exprs
            .into_iter()
            .map(|e| match e {
                Expr::Literal(datafusion_common::ScalarValue::Int64(Some(v)), _) if i32::try_from(v).is_ok() => datafusion_expr::lit(v as i32),
                e => e,
            })
            .collect();
        Ok(PlannerResult::Planned(pg_arrays::call(pg_arrays::MAKE_ARRAY, exprs)))
    }

    /// `a[i]` and `a[i:j]` of an array.
    fn plan_field_access(&self, expr: RawFieldAccessExpr, _schema: &DFSchema) -> Result<PlannerResult<RawFieldAccessExpr>> {
        use datafusion_expr::GetFieldAccess;
        Ok(PlannerResult::Planned(match expr.field_access {
            GetFieldAccess::ListIndex { key } => pg_arrays::call(pg_arrays::ARRAY_ELEMENT, vec![expr.expr, *key]),
            GetFieldAccess::ListRange { start, stop, .. } => pg_arrays::call(pg_arrays::ARRAY_SLICE, vec![expr.expr, *start, *stop]),
            other => return Ok(PlannerResult::Original(RawFieldAccessExpr { field_access: other, expr: expr.expr })),
        }))
    }

    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        // `->` / `->>` are jsonb access whatever the operand types.
        let interval = |t: &DataType| matches!(t, DataType::Interval(_));
        let RawBinaryExpr { op, left, right } = expr;
        let (la, ra) = (pg_arrays::is_array(&lt), pg_arrays::is_array(&rt));
        if la || ra {
            if let Some(planned) = pg_arrays::plan_operator(&op, &left, &lt, &right, &rt) {
                return Ok(PlannerResult::Planned(planned));
            }
        }
        let planned = match op {
            BinaryOperator::Arrow => call(JSON_GET, vec![left, right]),
            BinaryOperator::LongArrow => call(JSON_GET_TEXT, vec![left, right]),
            // jsonb is text underneath: `||` of a jsonb would join the texts.
            BinaryOperator::StringConcat if is_jsonb(&left, schema) || is_jsonb(&right, schema) => call(JSONB_CONCAT, vec![left, right]),
            BinaryOperator::Question => call(JSONB_EXISTS, vec![left, right]),
            BinaryOperator::AtArrow => call(JSONB_CONTAINS, vec![left, right]),
            BinaryOperator::ArrowAt => call(JSONB_CONTAINS, vec![right, left]),
            BinaryOperator::HashArrow => call(JSON_PATH, vec![left, right]),
            BinaryOperator::HashLongArrow => call(JSON_PATH_TEXT, vec![left, right]),
            // jsonb is text underneath: `-` of a jsonb removes a key or element.
            BinaryOperator::Minus if is_jsonb(&left, schema) => call(JSONB_DELETE, vec![left, right]),
            BinaryOperator::HashMinus => call(JSONB_DELETE_PATH, vec![left, right]),
            BinaryOperator::Multiply if interval(&lt) && is_number(&rt) => call(INTERVAL_MUL, vec![left, right]),
            BinaryOperator::Multiply if is_number(&lt) && interval(&rt) => call(INTERVAL_MUL, vec![right, left]),
            BinaryOperator::Divide if interval(&lt) && is_number(&rt) => call(INTERVAL_DIV, vec![left, right]),
            BinaryOperator::Eq | BinaryOperator::NotEq | BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq if interval(&lt) && rt == DataType::Utf8 => {
                return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right: cast(right, INTERVAL) }));
            }
            BinaryOperator::Eq | BinaryOperator::NotEq | BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq if lt == DataType::Utf8 && interval(&rt) => {
                return Ok(PlannerResult::Original(RawBinaryExpr { op, left: cast(left, INTERVAL), right }));
            }
            // date ± interval is a timestamp in PostgreSQL (DataFusion keeps a date).
            BinaryOperator::Plus | BinaryOperator::Minus if lt == DataType::Date32 && interval(&rt) => {
                return Ok(PlannerResult::Original(RawBinaryExpr { op, left: cast(left, DataType::Timestamp(TimeUnit::Microsecond, None)), right }));
            }
            // timestamp - timestamp is an interval (DataFusion makes it a
            // duration, which it neither aggregates nor multiplies).
            BinaryOperator::Minus if matches!((&lt, &rt), (DataType::Timestamp(..), DataType::Timestamp(..))) => {
                let (left, right) = meet_as_timestamptz(left, &lt, right, &rt);
                difference(left, right, INTERVAL)
            }
            // timestamp beside timestamptz compares as timestamptz.
            BinaryOperator::Eq | BinaryOperator::NotEq | BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq
                if matches!((&lt, &rt), (DataType::Timestamp(_, Some(_)), DataType::Timestamp(_, None)) | (DataType::Timestamp(_, None), DataType::Timestamp(_, Some(_)))) =>
            {
                let (left, right) = meet_as_timestamptz(left, &lt, right, &rt);
                return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }));
            }
            // A quoted literal beside a timestamp takes PostgreSQL's reading:
            // in `ts - '...'` a timestamp (of the same type; the difference
            // is an interval), in `ts + '...'` an interval.
            BinaryOperator::Minus if matches!(lt, DataType::Timestamp(..)) && rt == DataType::Utf8 && is_literal(&right) => {
                let right = cast(right, lt.clone());
                difference(left, right, INTERVAL)
            }
            BinaryOperator::Plus if matches!(lt, DataType::Timestamp(..)) && rt == DataType::Utf8 && is_literal(&right) => {
                return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right: cast(right, INTERVAL) }));
            }
            // date - date is a number of days, an integer in PostgreSQL.
            BinaryOperator::Minus if lt == DataType::Date32 && rt == DataType::Date32 => difference(left, right, DataType::Int32),
            BinaryOperator::Plus if interval(&lt) && rt == DataType::Date32 => {
                return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right: cast(right, DataType::Timestamp(TimeUnit::Microsecond, None)) }));
            }
            // A uuid beside text reads the text as a uuid (a quoted literal
            // in any of uuid's spellings matches), as PostgreSQL's unknown
            // literal takes the uuid type.
            BinaryOperator::Eq | BinaryOperator::NotEq | BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq
                if is_uuid(&left, schema) != is_uuid(&right, schema) && [&lt, &rt].iter().all(|t| matches!(t, DataType::Utf8 | DataType::Null)) =>
            {
                let as_uuid = |e: Expr| Expr::Cast(Cast { expr: Box::new(e), field: uuid_field() });
                let (left, right) = if is_uuid(&left, schema) { (left, as_uuid(right)) } else { (as_uuid(left), right) };
                return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }));
            }
            // PostgreSQL has no comparison of text with a number: DataFusion
            // would cast the text (per row, failing at run time or, worse,
            // finding '01' = 1). A quoted literal is of unknown type in
            // PostgreSQL and takes the other side's, as DataFusion does.
            BinaryOperator::Eq | BinaryOperator::NotEq | BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq
                if (lt == DataType::Utf8 && !is_literal(&left) && rt.is_numeric()) || (rt == DataType::Utf8 && !is_literal(&right) && lt.is_numeric()) =>
            {
                let name = crate::types::type_name_of_arrow;
                return plan_err!("operator does not exist: {} {} {}", name(&lt), op, name(&rt));
            }
            op => return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right })),
        };
        Ok(PlannerResult::Planned(planned))
    }
}

/// Plans PostgreSQL type names DataFusion does not know.
#[derive(Debug, Default)]
pub struct PgTypePlanner;

/// The field of a jsonb value: text marked as jsonb.
pub fn jsonb_field() -> FieldRef {
    marked_text_field("jsonb")
}

/// A text field carrying the type mark `mark`.
fn marked_text_field(mark: &str) -> FieldRef {
    Arc::new(Field::new("", DataType::Utf8, true).with_metadata(HashMap::from([(TYPE_METADATA_KEY.to_string(), mark.to_string())])))
}

/// The field of a uuid value: text (canonical, lower case) marked as uuid.
pub fn uuid_field() -> FieldRef {
    marked_text_field("uuid")
}

fn is_uuid(e: &Expr, schema: &DFSchema) -> bool {
    has_mark(e, schema, "uuid")
}

/// The field of a cast to text: marked as text, so that the cast does not
/// keep its operand's jsonb mark (`j::text` is text, not jsonb).
fn text_field() -> FieldRef {
    marked_text_field("text")
}

impl TypePlanner for PgTypePlanner {
    fn plan_type_field(&self, sql_type: &sqlparser::ast::DataType) -> Result<Option<FieldRef>> {
        use sqlparser::ast::DataType as T;
        Ok(match sql_type {
            T::JSONB | T::JSON => Some(jsonb_field()),
            T::Uuid => Some(uuid_field()),
            // Every character type is eddy's one text type (a cast to it
            // drops a uuid or jsonb mark).
            T::Text | T::Varchar(_) | T::CharacterVarying(_) | T::CharVarying(_) | T::Char(_) | T::Character(_) | T::String(_) => Some(text_field()),
            T::Custom(name, _) if matches!(name.to_string().to_lowercase().as_str(), "jsonb" | "json") => Some(jsonb_field()),
            T::Custom(name, _) if name.to_string().eq_ignore_ascii_case("uuid") => Some(uuid_field()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_function_types() {
        let f = &PG_FUNCTIONS["mod"];
        assert_eq!(f.coerce_types(&[DataType::Int64, DataType::Int32]).unwrap(), vec![DataType::Int64, DataType::Int64]);
        assert_eq!(f.return_type(&[DataType::Int32, DataType::Int32]).unwrap(), DataType::Int32);
        assert_eq!(f.coerce_types(&[DataType::Decimal128(8, 3), DataType::Int64]).unwrap(), vec![DataType::Decimal128(8, 3), DataType::Decimal128(20, 0)]);
        let t = &PG_FUNCTIONS["date_trunc"];
        assert_eq!(t.return_type(&[DataType::Utf8, DataType::Date32]).unwrap(), timestamptz());
        assert_eq!(t.return_type(&[DataType::Utf8, DataType::Timestamp(TimeUnit::Microsecond, None)]).unwrap(), DataType::Timestamp(TimeUnit::Microsecond, None));
        assert_eq!(PG_FUNCTIONS["date_part"].return_type(&[DataType::Utf8, DataType::Date32]).unwrap(), DataType::Float64);
        assert_eq!(PG_FUNCTIONS[EXTRACT].return_type(&[DataType::Utf8, DataType::Date32]).unwrap(), DataType::Decimal128(38, 10));
    }
}
