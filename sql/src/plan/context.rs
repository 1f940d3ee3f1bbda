//! DataFusion's view of our catalog: table sources with Arrow schemas, and
//! the function registry DataFusion resolves names against.
//!
//! DataFusion only plans here; it never executes. A plain (non
//! materialized) view is a source carrying its logical plan, which
//! DataFusion's analyzer inlines.

use crate::catalog::{Catalog, ItemKind};
use crate::types::arrow_schema;
use arrow_schema::{DataType, SchemaRef};
use datafusion_common::config::ConfigOptions;
use datafusion_common::{not_impl_err, plan_err, Result, TableReference};
use datafusion_expr::planner::{ContextProvider, ExprPlanner};
use datafusion_expr::{AggregateUDF, HigherOrderUDF, LogicalPlan, ScalarUDF, TableSource, WindowUDF};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// A catalog relation as DataFusion sees it.
pub struct EddySource {
    pub id: eddy_engine::GlobalId,
    schema: SchemaRef,
    /// Set for plain views: the plan DataFusion inlines.
    view: Option<LogicalPlan>,
    /// A table's column DEFAULTs, which an INSERT that omits the column
    /// takes.
    defaults: HashMap<String, datafusion_expr::Expr>,
    /// Set for a table function's call in FROM (see [`super::lateral`]).
    pub call: Option<super::lateral::TableCall>,
}

impl EddySource {
    /// A source that is only its plan, inlined where it is read (a table
    /// function's rows); it names no catalog item.
    pub fn inlined(schema: SchemaRef, plan: LogicalPlan) -> EddySource {
        EddySource { id: 0, schema, view: Some(plan), defaults: HashMap::new(), call: None }
    }

    /// A table function's call: its rows depend on its arguments, which
    /// may read the FROM items before it.
    pub fn call(schema: SchemaRef, call: super::lateral::TableCall) -> EddySource {
        EddySource { id: 0, schema, view: None, defaults: HashMap::new(), call: Some(call) }
    }
}

impl TableSource for EddySource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        self.view.as_ref().map(Cow::Borrowed)
    }
    fn get_column_default(&self, column: &str) -> Option<&datafusion_expr::Expr> {
        self.defaults.get(column)
    }
}

/// The schemas a qualified name may use: `public` holds everything a user
/// creates, `eddy_catalog` the system relations.
pub const KNOWN_SCHEMAS: &[&str] = &["public", "eddy_catalog", "pg_catalog", "information_schema"];

/// The registry of functions, built once.
pub struct Functions {
    pub scalars: HashMap<String, Arc<ScalarUDF>>,
    pub aggregates: HashMap<String, Arc<AggregateUDF>>,
    pub windows: HashMap<String, Arc<WindowUDF>>,
    pub planners: Vec<Arc<dyn ExprPlanner>>,
}

pub static FUNCTIONS: LazyLock<Functions> = LazyLock::new(|| {
    let mut scalars = by_name(datafusion_functions::all_default_functions(), |f| f.name(), |f| f.aliases());
    // PostgreSQL's functions DataFusion lacks or types differently.
    for (name, f) in super::pg_functions::pg_functions().into_iter().chain(super::pg_arrays::array_functions()) {
        scalars.insert(name.to_string(), f);
    }
    // now() and current_timestamp are timestamptz (DataFusion's default
    // now() has no zone: clients would read a timestamp without one).
    let now = Arc::new(ScalarUDF::new_from_impl(datafusion_functions::datetime::now::NowFunc::new_with_config(&config_options())));
    for name in ["now", "current_timestamp"] {
        scalars.insert(name.to_string(), now.clone());
    }
    // PostgreSQL's `sign` is DataFusion's `signum`.
    if let Some(f) = scalars.get("signum").cloned() {
        scalars.insert("sign".to_string(), f);
    }
    let mut aggregates = by_name(datafusion_functions_aggregate::all_default_aggregate_functions(), |f| f.name(), |f| f.aliases());
    // PostgreSQL's result types of sum and avg.
    if let (Some(sum), Some(avg)) = (aggregates.get("sum").cloned(), aggregates.get("avg").cloned()) {
        for f in super::pg_aggregates::pg_aggregates(sum, avg) {
            for alias in f.aliases() {
                aggregates.insert(alias.clone(), f.clone());
            }
            aggregates.insert(f.name().to_string(), f);
        }
    }
    for f in super::pg_aggregates::ordered_set_aggregates().into_iter().chain(super::pg_aggregates::json_aggregates()) {
        aggregates.insert(f.name().to_string(), f);
    }
    // PostgreSQL's `variance` is var_samp.
    if let Some(f) = aggregates.get("var_samp").cloned() {
        aggregates.insert("variance".to_string(), f);
    }
    // PostgreSQL's `every` is bool_and.
    if let Some(f) = aggregates.get("bool_and").cloned() {
        aggregates.insert("every".to_string(), f);
    }
    let mut windows = by_name(datafusion_functions_window::all_default_window_functions(), |f| f.name(), |f| f.aliases());
    if let Some(f) = windows.get("ntile").cloned() {
        windows.insert("ntile".to_string(), super::pg_aggregates::pg_ntile(f));
    }
    let planners: Vec<Arc<dyn ExprPlanner>> = vec![
        Arc::new(super::pg_functions::PgExprPlanner),
        Arc::new(datafusion_functions::core::planner::CoreFunctionPlanner::default()),
        Arc::new(datafusion_functions::unicode::planner::UnicodeFunctionPlanner),
        Arc::new(datafusion_functions::datetime::planner::DatetimeFunctionPlanner),
        Arc::new(datafusion_functions_aggregate::planner::AggregateFunctionPlanner),
        Arc::new(datafusion_functions_window::planner::WindowFunctionPlanner),
    ];
    Functions { scalars, aggregates, windows, planners }
});

/// Functions keyed by their name and by each alias.
fn by_name<F>(fs: Vec<Arc<F>>, name: impl Fn(&F) -> &str, aliases: impl Fn(&F) -> &[String]) -> HashMap<String, Arc<F>> {
    let mut map = HashMap::new();
    for f in fs {
        for alias in aliases(&f) {
            map.insert(alias.clone(), f.clone());
        }
        map.insert(name(&f).to_string(), f);
    }
    map
}

/// Resolves names against one catalog snapshot.
pub struct EddyContext<'a> {
    pub catalog: &'a Catalog,
    pub options: ConfigOptions,
    /// Plans of plain views, by id (DataFusion plans kept beside the catalog).
    pub views: &'a HashMap<eddy_engine::GlobalId, LogicalPlan>,
}

pub fn config_options() -> ConfigOptions {
    let mut options = ConfigOptions::default();
    options.sql_parser.parse_float_as_decimal = true;
    options.sql_parser.map_string_types_to_utf8view = false;
    options.sql_parser.dialect = datafusion_common::config::Dialect::PostgreSQL;
    // The session time zone is UTC: `timestamptz` plans as a UTC timestamp.
    options.execution.time_zone = Some("+00:00".to_string());
    options
}

impl EddyContext<'_> {
    /// The DEFAULT expressions of the columns of a CREATE TABLE, planned
    /// (without columns to refer to, as in PostgreSQL).
    fn column_defaults(&self, create_sql: &str) -> HashMap<String, datafusion_expr::Expr> {
        let planner = datafusion_sql::planner::SqlToRel::new(self);
        crate::statement::column_defaults(create_sql)
            .into_iter()
            .filter_map(|(name, e)| planner.sql_to_expr(e, &datafusion_common::DFSchema::empty(), &mut datafusion_sql::planner::PlannerContext::new()).ok().map(|expr| (name, expr)))
            .collect()
    }
}

impl ContextProvider for EddyContext<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        // One database and the schemas eddy has: anything else names a
        // relation that does not exist, as in PostgreSQL.
        if name.catalog().is_some_and(|c| c != "eddy") {
            return not_impl_err!("cross-database references are not implemented: \"{}\"", name);
        }
        if name.schema().is_some_and(|s| !KNOWN_SCHEMAS.contains(&s)) {
            return plan_err!("relation \"{}\" does not exist", name);
        }
        let full = Catalog::reference_name(name.schema(), name.table());
        let table = full.as_str();
        let Some(item) = self.catalog.resolve(table) else {
            return plan_err!("relation \"{}\" does not exist", table);
        };
        let view = match item.kind {
            ItemKind::View => self.views.get(&item.id).cloned(),
            ItemKind::Index { .. } => return plan_err!("\"{}\" is an index", table),
            _ => None,
        };
        let defaults = if item.kind == ItemKind::Table { self.column_defaults(&item.create_sql) } else { HashMap::new() };
        Ok(Arc::new(EddySource { id: item.id, schema: arrow_schema(&item.desc), view, defaults, call: None }))
    }
    fn get_table_function_source(&self, name: &str, args: Vec<datafusion_expr::Expr>) -> Result<Arc<dyn TableSource>> {
        super::table_functions::table_function(name, args)
    }
    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        &FUNCTIONS.planners
    }
    fn get_type_planner(&self) -> Option<Arc<dyn datafusion_expr::planner::TypePlanner>> {
        Some(Arc::new(super::pg_functions::PgTypePlanner))
    }
    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        FUNCTIONS.scalars.get(name).cloned()
    }
    fn get_higher_order_meta(&self, _name: &str) -> Option<Arc<HigherOrderUDF>> {
        None
    }
    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        FUNCTIONS.aggregates.get(name).cloned()
    }
    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        FUNCTIONS.windows.get(name).cloned()
    }
    fn get_variable_type(&self, _names: &[String]) -> Option<DataType> {
        None
    }
    fn options(&self) -> &ConfigOptions {
        &self.options
    }
    fn udf_names(&self) -> Vec<String> {
        FUNCTIONS.scalars.keys().cloned().collect()
    }
    fn higher_order_function_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn udaf_names(&self) -> Vec<String> {
        FUNCTIONS.aggregates.keys().cloned().collect()
    }
    fn udwf_names(&self) -> Vec<String> {
        FUNCTIONS.windows.keys().cloned().collect()
    }
}
