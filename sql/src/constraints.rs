//! A table's PRIMARY KEY and UNIQUE constraints, read from its CREATE
//! TABLE statement, and the check that a set of rows keeps them.
//!
//! The coordinator enforces them on every INSERT, UPDATE, COPY FROM and
//! COMMIT, and INSERT's `ON CONFLICT` names one of them. What this module
//! does not do: FOREIGN KEY and CHECK constraints (accepted with a notice,
//! not enforced), deferrable constraints, `NULLS NOT DISTINCT`.

use crate::names::ident_name;
use crate::{codes, SqlError};
use eddy_engine::repr::RelationDesc;
use eddy_engine::{Datum, Row};
use sqlparser::ast::{ColumnOption, Statement, TableConstraint};

/// One PRIMARY KEY or UNIQUE constraint: its name (PostgreSQL's default
/// `t_pkey`, `t_a_b_key`, or the one given) and its columns' positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniqueKey {
    pub name: String,
    pub columns: Vec<usize>,
    /// PRIMARY KEY rather than UNIQUE.
    pub primary: bool,
}

impl UniqueKey {
    /// The key's values in `row`; `None` when one is NULL (NULLs never
    /// conflict, as in PostgreSQL).
    pub fn of(&self, row: &[Datum]) -> Option<Row> {
        let key: Row = self.columns.iter().map(|c| row[*c].clone()).collect();
        (!key.iter().any(Datum::is_null)).then_some(key)
    }

    /// PostgreSQL's detail of a violation: `Key (id)=(1) already exists.`
    pub fn detail(&self, desc: &RelationDesc, key: &[Datum]) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| desc.names[*c].as_str()).collect();
        let values: Vec<String> = key.iter().zip(&self.columns).map(|(d, c)| eddy_engine::repr::format_datum(d, desc.types[*c].scalar).unwrap_or_default()).collect();
        format!("Key ({})=({}) already exists.", names.join(", "), values.join(", "))
    }
}

/// Checks the keys a CREATE TABLE declares over columns `names`, as
/// PostgreSQL does (one primary key, known columns, none twice), and
/// returns the primary key's columns, which are NOT NULL.
pub fn check_declared(table: &str, ct: &sqlparser::ast::CreateTable, names: &[String]) -> Result<Vec<usize>, SqlError> {
    let mut primary: Vec<Vec<usize>> = Vec::new();
    for (i, c) in ct.columns.iter().enumerate() {
        if c.options.iter().any(|o| matches!(o.option, ColumnOption::PrimaryKey(_))) {
            primary.push(vec![i]);
        }
    }
    for t in &ct.constraints {
        let (is_primary, cols) = match t {
            TableConstraint::PrimaryKey(pk) => (true, pk.columns.iter().map(|c| c.column.expr.to_string()).collect::<Vec<_>>()),
            TableConstraint::Unique(u) => (false, u.columns.iter().map(|c| c.column.expr.to_string()).collect()),
            _ => continue,
        };
        let kind = if is_primary { "primary key" } else { "unique" };
        let mut positions = Vec::new();
        for c in cols {
            let c = crate::names::text_name(&c);
            let p = names.iter().position(|n| *n == c).ok_or_else(|| SqlError::new(codes::UNDEFINED_COLUMN, format!("column \"{}\" named in key does not exist", c)))?;
            if positions.contains(&p) {
                return Err(SqlError::new(codes::DUPLICATE_COLUMN, format!("column \"{}\" appears twice in {} constraint", c, kind)));
            }
            positions.push(p);
        }
        if is_primary {
            primary.push(positions);
        }
    }
    if primary.len() > 1 {
        return Err(SqlError::new("42P16", format!("multiple primary keys for table \"{}\" are not allowed", table)));
    }
    Ok(primary.pop().unwrap_or_default())
}

/// The PRIMARY KEY (first) and UNIQUE constraints of the table `name`
/// created by `create_sql`, whose columns `desc` lists.
pub fn unique_keys(name: &str, create_sql: &str, desc: &RelationDesc) -> Vec<UniqueKey> {
    let Ok(mut stmts) = crate::statement::parse(create_sql) else { return vec![] };
    let Some(Statement::CreateTable(ct)) = stmts.pop() else { return vec![] };
    let position = |n: &str| desc.names.iter().position(|c| c == n);
    let mut keys: Vec<(bool, Option<String>, Vec<usize>)> = Vec::new();
    for c in &ct.columns {
        for o in &c.options {
            let primary = match &o.option {
                ColumnOption::PrimaryKey(_) => true,
                ColumnOption::Unique(_) => false,
                _ => continue,
            };
            if let Some(p) = position(&ident_name(&c.name)) {
                keys.push((primary, o.name.as_ref().map(ident_name), vec![p]));
            }
        }
    }
    for t in &ct.constraints {
        let (primary, cname, cols) = match t {
            TableConstraint::PrimaryKey(pk) => (true, &pk.name, pk.columns.iter().map(|c| c.column.expr.to_string()).collect::<Vec<_>>()),
            TableConstraint::Unique(u) => (false, &u.name, u.columns.iter().map(|c| c.column.expr.to_string()).collect()),
            _ => continue,
        };
        let cols: Option<Vec<usize>> = cols.iter().map(|c| position(&crate::names::text_name(c))).collect();
        if let Some(cols) = cols {
            keys.push((primary, cname.as_ref().map(ident_name), cols));
        }
    }
    keys.sort_by_key(|(primary, _, _)| !primary);
    keys.into_iter()
        .map(|(primary, cname, columns)| {
            let default = if primary { format!("{}_pkey", name) } else { format!("{}_{}_key", name, columns.iter().map(|c| desc.names[*c].as_str()).collect::<Vec<_>>().join("_")) };
            UniqueKey { name: cname.unwrap_or(default), columns, primary }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::repr::ColumnType;
    use eddy_engine::ScalarType;

    #[test]
    fn keys_come_from_column_and_table_constraints() {
        let desc = RelationDesc::new(["id", "sku", "a", "b"].iter().map(|n| (n.to_string(), ColumnType { scalar: ScalarType::Int32, nullable: true })).collect());
        let keys = unique_keys("t", "CREATE TABLE t (id int, sku int UNIQUE, a int, b int, PRIMARY KEY (id), CONSTRAINT ab UNIQUE (a, b))", &desc);
        assert_eq!(keys, vec![UniqueKey { name: "t_pkey".into(), columns: vec![0], primary: true }, UniqueKey { name: "t_sku_key".into(), columns: vec![1], primary: false }, UniqueKey { name: "ab".into(), columns: vec![2, 3], primary: false }]);
        assert_eq!(keys[2].of(&[Datum::Int(1), Datum::Null, Datum::Int(2), Datum::Null]), None, "a NULL part never conflicts");
        assert_eq!(keys[0].detail(&desc, &[Datum::Int(7)]), "Key (id)=(7) already exists.");
        assert!(unique_keys("t", "CREATE TABLE t (id int)", &desc).is_empty());
    }
}
