//! `sum` and `avg` (and the window function `ntile`) typed as in
//! PostgreSQL, for planning only.
//!
//! DataFusion types `sum(bigint)` as bigint and casts an integer argument of
//! `avg` to double; PostgreSQL's `sum(bigint)` is numeric (it cannot
//! overflow) and `avg` of integers or numeric is an exact numeric. The types
//! matter beyond the wire: a client reads `avg(int)` as a Decimal, and a
//! view's column type decides how expressions over it are planned.
//!
//! [`PgAggregate`] wraps DataFusion's function and changes only the argument
//! coercion and the result type; everything else (names, aliases, state)
//! is the wrapped function's. Values are computed by eddy's engine
//! (`eddy_engine::expr::agg`), never by these functions.
//!
//! | call | PostgreSQL type | argument as planned |
//! |---|---|---|
//! | `sum(smallint \| integer)` | bigint | unchanged |
//! | `sum(bigint \| numeric)` | numeric | unchanged |
//! | `avg(smallint \| integer \| bigint \| numeric)` | numeric | unchanged |
//! | `avg(interval)` | interval | unchanged |
//! | floats | double precision | cast to double |
//!
//! What it does not do: `sum(real)` is double here (PostgreSQL: real), and
//! the variance family stays double for every input (PostgreSQL: numeric
//! for integer and numeric inputs).
//!
//! [`EngineAggregate`] declares PostgreSQL's ordered-set aggregates that
//! DataFusion lacks, `percentile_disc(f) WITHIN GROUP (ORDER BY x)` and
//! `mode() WITHIN GROUP (ORDER BY x)`, typed as x. (DataFusion's own
//! `percentile_cont` is used as it is: double precision, as in PostgreSQL.)
//! Fractions are single numbers; PostgreSQL's array of fractions is not
//! supported, as eddy has no arrays.
//!
//! It also declares `jsonb_agg(x)` and `jsonb_object_agg(k, v)`
//! (and their `json_` names), typed jsonb: eddy has one JSON type.

use crate::types::UNCONSTRAINED_NUMERIC;
use arrow_schema::{DataType, FieldRef};
use datafusion_common::Result;
use datafusion_expr::function::{AccumulatorArgs, PartitionEvaluatorArgs, StateFieldsArgs, WindowUDFFieldArgs};
use datafusion_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};
use std::sync::Arc;

/// Which aggregate a [`PgAggregate`] types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Sum,
    Avg,
}

/// DataFusion's `sum` or `avg` with PostgreSQL's argument and result types.
#[derive(Debug)]
struct PgAggregate {
    kind: Kind,
    inner: Arc<AggregateUDF>,
    signature: Signature,
}

impl PartialEq for PgAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}
impl Eq for PgAggregate {}
impl std::hash::Hash for PgAggregate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state)
    }
}

fn numeric() -> DataType {
    DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1)
}

/// PostgreSQL's name of a planned type, for errors.
fn type_name(t: &DataType) -> String {
    crate::types::column_type_of_field(&arrow_schema::Field::new("", t.clone(), true)).map_or_else(|_| t.to_string(), |c| crate::psql::format_type(c.scalar))
}

fn is_decimal(t: &DataType) -> bool {
    matches!(t, DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..))
}

impl PgAggregate {
    /// The type the argument is planned as (a cast is added when it
    /// differs). Integers stay as they are: the engine adds any width, and
    /// the result type depends on the width written.
    fn argument_type(&self, t: &DataType) -> Option<DataType> {
        use DataType::*;
        Some(match t {
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => t.clone(),
            Null => Int64,
            t if is_decimal(t) => t.clone(),
            Float16 | Float32 | Float64 => Float64,
            Interval(_) => t.clone(),
            _ => return None,
        })
    }

    /// The result type for an argument planned by `argument_type`.
    fn result_type(&self, t: &DataType) -> Option<DataType> {
        use DataType::*;
        Some(match (self.kind, t) {
            (Kind::Sum, Int8 | Int16 | Int32 | UInt8 | UInt16) => Int64,
            (_, Float64) => Float64,
            (_, Interval(_)) => t.clone(),
            (_, t) if t.is_integer() || is_decimal(t) => numeric(),
            _ => return None,
        })
    }
}

impl AggregateUDFImpl for PgAggregate {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t] => match self.argument_type(t) {
                Some(t) => Ok(vec![t]),
                None => datafusion_common::plan_err!("function {}({}) does not exist", self.name(), type_name(t)),
            },
            _ => datafusion_common::plan_err!("function {} takes one argument", self.name()),
        }
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args.first().and_then(|t| self.result_type(t)) {
            Some(t) => Ok(t),
            None => datafusion_common::plan_err!("function {}({}) does not exist", self.name(), args.iter().map(type_name).collect::<Vec<_>>().join(", ")),
        }
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.inner().accumulator(args)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.inner().state_fields(args)
    }
    fn is_nullable(&self) -> bool {
        true
    }
}

/// `sum` and `avg` with PostgreSQL's types, to register under their names.
pub fn pg_aggregates(sum: Arc<AggregateUDF>, avg: Arc<AggregateUDF>) -> [Arc<AggregateUDF>; 2] {
    let wrap = |kind, inner| Arc::new(AggregateUDF::new_from_impl(PgAggregate { kind, inner, signature: Signature::user_defined(Volatility::Immutable) }));
    [wrap(Kind::Sum, sum), wrap(Kind::Avg, avg)]
}

/// What an [`EngineAggregate`] returns.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Returns {
    /// The type of its first argument: an ordered-set aggregate, whose
    /// WITHIN GROUP value DataFusion puts first among the arguments.
    FirstArgument,
    /// jsonb.
    Jsonb,
}

/// An aggregate DataFusion lacks, declared for planning only: eddy's
/// engine computes it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct EngineAggregate {
    name: &'static str,
    signature: Signature,
    returns: Returns,
}

impl AggregateUDFImpl for EngineAggregate {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match self.returns {
            Returns::FirstArgument => args[0].clone(),
            Returns::Jsonb => DataType::Utf8,
        })
    }
    fn return_field(&self, args: &[FieldRef]) -> Result<FieldRef> {
        let types: Vec<DataType> = args.iter().map(|f| f.data_type().clone()).collect();
        let field = arrow_schema::Field::new(self.name, self.return_type(&types)?, true);
        Ok(Arc::new(match self.returns {
            Returns::Jsonb => field.with_metadata(super::pg_functions::jsonb_field().metadata().clone()),
            Returns::FirstArgument => field,
        }))
    }
    fn supports_within_group_clause(&self) -> bool {
        self.returns == Returns::FirstArgument
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        datafusion_common::not_impl_err!("{} is evaluated by eddy's engine", self.name)
    }
    fn state_fields(&self, _: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        datafusion_common::not_impl_err!("{} is evaluated by eddy's engine", self.name)
    }
    fn is_nullable(&self) -> bool {
        true
    }
}

fn engine_aggregate(name: &'static str, args: usize, returns: Returns) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(EngineAggregate { name, signature: Signature::any(args, Volatility::Immutable), returns }))
}

/// `percentile_disc` and `mode`, to register under their names.
pub fn ordered_set_aggregates() -> [Arc<AggregateUDF>; 2] {
    [engine_aggregate("percentile_disc", 2, Returns::FirstArgument), engine_aggregate("mode", 1, Returns::FirstArgument)]
}

/// `jsonb_agg`, `json_agg`, `jsonb_object_agg` and `json_object_agg`, to
/// register under their names.
pub fn json_aggregates() -> [Arc<AggregateUDF>; 4] {
    [engine_aggregate("jsonb_agg", 1, Returns::Jsonb), engine_aggregate("json_agg", 1, Returns::Jsonb), engine_aggregate("jsonb_object_agg", 2, Returns::Jsonb), engine_aggregate("json_object_agg", 2, Returns::Jsonb)]
}

/// DataFusion's `ntile` typed `integer`, as in PostgreSQL (DataFusion's
/// is an unsigned 64-bit integer, which reads as bigint). Values are
/// computed by eddy's engine.
#[derive(Debug)]
struct PgNtile {
    inner: Arc<WindowUDF>,
}

impl PartialEq for PgNtile {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for PgNtile {}
impl std::hash::Hash for PgNtile {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "ntile".hash(state)
    }
}

impl WindowUDFImpl for PgNtile {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        self.inner.inner().partition_evaluator(args)
    }
    fn field(&self, args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(arrow_schema::Field::new(args.name(), DataType::Int32, true)))
    }
}

/// `ntile` with PostgreSQL's result type, to register under its name.
pub fn pg_ntile(ntile: Arc<WindowUDF>) -> Arc<WindowUDF> {
    Arc::new(WindowUDF::new_from_impl(PgNtile { inner: ntile }))
}
