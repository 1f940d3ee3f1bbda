//! The simple and the extended query protocol over a [`QueryHandler`]
//! session.
//!
//! Does: run a simple Query's whole string through `execute` and answer
//! each statement's result in order; Parse (asks `describe` for parameter
//! and result types), Bind (decodes the parameters, checks counts),
//! Describe, Execute (pgwire keeps the rows in the portal and honours
//! Execute's row limit with PortalSuspended), Sync and Close (pgwire's
//! defaults), and start COPY (`copy.rs` takes the incoming data). Does not
//! parse SQL itself (the handler does).
//!
//! [`QueryHandler`]: crate::QueryHandler

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use eddy_engine::repr::{RelationDesc, ScalarType};
use eddy_engine::Datum;
use eddy_sql::SqlError;
use futures::{stream, Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{send_ready_for_query, ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, Type, DEFAULT_NAME};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{Bind, BindComplete, Describe, TARGET_TYPE_BYTE_STATEMENT};
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;
use pgwire::messages::PgWireBackendMessage;

use super::codec::{decode_binary, decode_text};
use super::results::{column_format, data_rows, error_response, fields, notice_response, pg_type, pgwire_error, row_description, scalar_type};
use super::{Conn, Session};
use crate::handler::QueryResult;

/// A parsed (described) statement, as the extended protocol stores it.
#[derive(Clone, Debug)]
pub struct Prepared {
    sql: String,
    /// How each parameter is read: the client's declared type where it
    /// gave one (it encodes binary values by that type), else the
    /// described one.
    params: Vec<ScalarType>,
    /// The parameters the client declared as uuid: read as text, their
    /// binary form (16 bytes) in uuid's text form.
    uuids: Vec<usize>,
    result: Option<RelationDesc>,
}

#[async_trait]
impl QueryParser for Session {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, _client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        // A declared type eddy has no column type for is refused, rather
        // than its binary form read as text; uuid is read as its text.
        let mut uuids = Vec::new();
        let mut declared: Vec<Option<ScalarType>> = Vec::with_capacity(types.len());
        for (i, t) in types.iter().enumerate() {
            declared.push(match t {
                Some(t) if *t == Type::UUID => {
                    uuids.push(i);
                    Some(ScalarType::Text)
                }
                Some(t) if t.oid() != 0 && *t != Type::UNKNOWN && scalar_type(t).is_none() => {
                    let err = match t.name().strip_prefix('_') {
                        Some(element) => SqlError::new("0A000", format!("parameter ${} is an array ({}[]), and eddy has no arrays", i + 1, element)).with_hint("pass the values one by one: x IN (%s, %s, ...)"),
                        None => SqlError::new("0A000", format!("parameter ${} is of type {}, which eddy does not support", i + 1, t.name())).with_hint("send it as text, or cast it in the statement"),
                    };
                    return Err(pgwire_error(err));
                }
                Some(t) => scalar_type(t),
                None => None,
            });
        }
        let desc = self.handler.describe(self.id()?, sql, &declared).await.map_err(pgwire_error)?;
        let n = declared.len().max(desc.params.len());
        // An unknown type with no inference left reads as text, like PostgreSQL's `unknown`.
        let params = (0..n)
            .map(|i| declared.get(i).copied().flatten().or(desc.params.get(i).copied()).unwrap_or(ScalarType::Text))
            .collect();
        Ok(Some(Prepared { sql: sql.to_owned(), params, uuids, result: desc.result }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt.params.iter().map(|t| pg_type(*t)).collect())
    }

    fn get_result_schema(&self, stmt: &Prepared, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(stmt.result.as_ref().map(|d| fields(d, format.unwrap_or(&Format::UnifiedText))).unwrap_or_default())
    }
}

/// A binary uuid (16 bytes) as text: `12345678-1234-5678-1234-567812345678`.
fn decode_uuid(b: &[u8]) -> Result<Datum, SqlError> {
    if b.len() != 16 {
        return Err(SqlError::new("22P03", "incorrect binary data format for type uuid"));
    }
    let hex: String = b.iter().map(|x| format!("{:02x}", x)).collect();
    Ok(Datum::Text(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]).into()))
}

/// Decodes a portal's parameters by the statement's parameter types.
pub fn bind_params(stmt: &Prepared, format: &Format, values: &[Option<Bytes>]) -> Result<Vec<Datum>, SqlError> {
    if values.len() != stmt.params.len() {
        return Err(SqlError::new(
            "08P01",
            format!("bind message supplies {} parameters, but prepared statement requires {}", values.len(), stmt.params.len()),
        ));
    }
    values
        .iter()
        .zip(&stmt.params)
        .enumerate()
        .map(|(i, (value, ty))| {
            let Some(bytes) = value else { return Ok(Datum::Null) };
            let decoded = match column_format(format, i) {
                FieldFormat::Text => decode_text(bytes, *ty),
                FieldFormat::Binary if stmt.uuids.contains(&i) => decode_uuid(bytes),
                FieldFormat::Binary => decode_binary(bytes, *ty),
            };
            decoded.map_err(|mut e| {
                e.detail.get_or_insert_with(|| format!("in bind parameter ${}", i + 1));
                e
            })
        })
        .collect()
}

/// The pgwire response for a command tag; transaction tags move the
/// ReadyForQuery status indicator.
fn command_response(tag: &str) -> Response {
    let t = Tag::new(tag);
    match tag {
        "BEGIN" | "START TRANSACTION" => Response::TransactionStart(t),
        "COMMIT" | "ROLLBACK" => Response::TransactionEnd(t),
        _ => Response::Execution(t),
    }
}

/// `DEALLOCATE name`: forgets the session's prepared statement of that
/// name (26000 when there is none); its command tag. `DEALLOCATE ALL`
/// (`None`) succeeds without forgetting any: pgwire's statement store
/// cannot list them (a Parse of a name in use replaces the statement).
fn deallocate<C>(client: &C, name: Option<&str>) -> Result<&'static str, SqlError>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore,
{
    let Some(name) = name else { return Ok("DEALLOCATE ALL") };
    if client.portal_store().get_statement(name).is_none() {
        return Err(SqlError::new("26000", format!("prepared statement \"{}\" does not exist", name)));
    }
    client.portal_store().rm_statement(name);
    Ok("DEALLOCATE")
}

/// Only whitespace and semicolons: PostgreSQL answers EmptyQueryResponse.
fn is_blank(sql: &str) -> bool {
    sql.chars().all(|c| c == ';' || c.is_whitespace())
}

impl Conn {
    /// Runs a simple-protocol query string and sends every statement's
    /// answer in order, notices before their command's completion. Updates
    /// `status` for BEGIN / COMMIT / ROLLBACK and errors.
    async fn run_simple<C>(&self, client: &mut C, sql: &str, status: &mut TransactionStatus) -> PgWireResult<()>
    where
        C: ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let results = if is_blank(sql) { Vec::new() } else { self.session.handler.execute(self.session.id()?, sql, &[]).await };
        // Also covers a string of comments only, which the handler runs as nothing.
        if results.is_empty() {
            client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
        }
        for result in results {
            let failed = match result {
                Ok(QueryResult::Rows { desc, rows, tag }) => {
                    let fields = fields(&desc, &Format::UnifiedText);
                    client.feed(PgWireBackendMessage::RowDescription(row_description(&fields))).await?;
                    // Text never fails to encode; keep the error path anyway.
                    match data_rows(&desc, &rows, &Format::UnifiedText) {
                        Ok(encoded) => {
                            for row in encoded {
                                client.feed(PgWireBackendMessage::DataRow(row)).await?;
                            }
                            let tag = match tag {
                                Some(t) => Tag::new(&t),
                                None => Tag::new("SELECT").with_rows(rows.len()),
                            };
                            client.feed(PgWireBackendMessage::CommandComplete(tag.into())).await?;
                            None
                        }
                        Err(e) => Some(e),
                    }
                }
                Ok(QueryResult::CopyOut { columns, rows, lines }) => {
                    let formats = vec![0; columns];
                    client.feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(0, columns as i16, formats))).await?;
                    for line in &lines {
                        client.feed(PgWireBackendMessage::CopyData(CopyData::new(Bytes::copy_from_slice(line.as_bytes())))).await?;
                    }
                    client.feed(PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
                    client.feed(PgWireBackendMessage::CommandComplete(Tag::new("COPY").with_rows(rows).into())).await?;
                    None
                }
                Ok(QueryResult::CopyIn { columns, copy }) => {
                    client.send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(0, columns as i16, vec![0; columns]))).await?;
                    *self.session.copy_in.lock().unwrap() = Some((copy, columns, Vec::new()));
                    // The client sends the rows now; statements after the
                    // COPY in the same message are not run (PostgreSQL
                    // would run them after the copy).
                    return Ok(());
                }
                Ok(QueryResult::Command { tag, notices }) => {
                    for n in &notices {
                        client.feed(PgWireBackendMessage::NoticeResponse(notice_response(n))).await?;
                    }
                    // ROLLBACK TO a savepoint: the block works again (a
                    // failed one too); PostgreSQL's tag is plain ROLLBACK.
                    let tag = if tag == "ROLLBACK TO SAVEPOINT" {
                        *status = TransactionStatus::Transaction;
                        "ROLLBACK".to_string()
                    } else {
                        match command_response(&tag) {
                            Response::TransactionStart(_) => *status = status.to_in_transaction_state(),
                            Response::TransactionEnd(_) => *status = status.to_idle_state(),
                            _ => {}
                        }
                        tag
                    };
                    client.feed(PgWireBackendMessage::CommandComplete(Tag::new(&tag).into())).await?;
                    None
                }
                Ok(QueryResult::Deallocate { name }) => match deallocate(client, name.as_deref()) {
                    Ok(tag) => {
                        client.feed(PgWireBackendMessage::CommandComplete(Tag::new(tag).into())).await?;
                        None
                    }
                    Err(e) => Some(e),
                },
                Err(e) => Some(e),
            };
            if let Some(e) = failed {
                client.feed(PgWireBackendMessage::ErrorResponse(error_response(&e))).await?;
                // A COMMIT that fails (40001, a serialization failure) has
                // ended the transaction, as in PostgreSQL; any other error
                // inside one leaves it failed until ROLLBACK.
                *status = if e.code == eddy_sql::codes::SERIALIZATION_FAILURE { status.to_idle_state() } else { status.to_error_state() };
                break;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SimpleQueryHandler for Conn {
    /// Replaces pgwire's default so that notices keep their place between
    /// results and transaction tags set the status.
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let mut status = client.transaction_status();
        let outcome = self.run_simple(client, &query.query, &mut status).await;
        client.set_transaction_status(status);
        if self.session.copy_in.lock().unwrap().is_some() {
            // ReadyForQuery follows the copy's end (see `copy.rs`).
            client.set_state(PgWireConnectionState::CopyInProgress(false));
            return outcome;
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        outcome?;
        send_ready_for_query(client, status).await
    }

    /// Unused while `on_query` is overridden; kept consistent with it.
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut status = client.transaction_status();
        self.run_simple(client, query, &mut status).await?;
        Ok(Vec::new())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Conn {
    type Statement = Prepared;
    type QueryParser = Session;

    fn query_parser(&self) -> Arc<Session> {
        self.session.clone()
    }

    /// pgwire's default, plus decoding the parameters and checking the
    /// format counts, so that bad input fails at Bind as in PostgreSQL.
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stmt_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(stmt_name) {
            Some(Entry::Value(stmt)) => {
                let portal = Portal::try_new(&message, stmt)?;
                let prepared = &portal.statement.statement;
                bind_params(prepared, &portal.parameter_format, &portal.parameters).map_err(pgwire_error)?;
                let columns = prepared.result.as_ref().map_or(0, |d| d.arity());
                let formats = message.result_column_format_codes.len();
                if formats > 1 && formats != columns {
                    let msg = format!("bind message has {formats} result formats but query has {columns} columns");
                    return Err(pgwire_error(SqlError::new("08P01", msg)));
                }
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) if message.parameters.is_empty() => {
                client.portal_store().put_empty_portal(message.portal_name.as_deref().unwrap_or(DEFAULT_NAME));
            }
            Some(Entry::Empty) => {
                let msg = format!("bind message supplies {} parameters, but prepared statement requires 0", message.parameters.len());
                return Err(pgwire_error(SqlError::new("08P01", msg)));
            }
            None => return Err(PgWireError::StatementNotFound(stmt_name.to_owned())),
        }
        client.send(PgWireBackendMessage::BindComplete(BindComplete::new())).await?;
        Ok(())
    }

    /// Statements answer ParameterDescription then RowDescription or
    /// NoData, as PostgreSQL does (pgwire's default sends an empty
    /// RowDescription for a statement with parameters and no result).
    /// Portals and empty statements take pgwire's default path.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stored = match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => client.portal_store().get_statement(message.name.as_deref().unwrap_or(DEFAULT_NAME)),
            _ => None,
        };
        let Some(Entry::Value(stmt)) = stored else { return self._on_describe(client, message).await };
        // Report the client's own declared OIDs back (varchar stays varchar).
        let oids = stmt.statement.params.iter().enumerate().map(|(i, t)| {
            stmt.parameter_types.get(i).cloned().flatten().filter(|d| scalar_type(d).is_some()).unwrap_or_else(|| pg_type(*t)).oid()
        });
        client.feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(oids.collect()))).await?;
        match &stmt.statement.result {
            Some(desc) => {
                let fields = fields(desc, &Format::UnifiedText);
                client.send(PgWireBackendMessage::RowDescription(row_description(&fields))).await?;
            }
            None => client.send(PgWireBackendMessage::NoData(NoData::new())).await?,
        }
        Ok(())
    }

    /// Runs the portal's statement to completion; pgwire hands the rows
    /// out `max_rows` at a time.
    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stmt = &portal.statement.statement;
        let params = bind_params(stmt, &portal.parameter_format, &portal.parameters).map_err(pgwire_error)?;
        let results = self.session.handler.execute(self.session.id()?, &stmt.sql, &params).await;
        // One statement per Parse; should the handler return more, the
        // earlier ones only contribute their notices.
        let mut last = None;
        for result in results {
            if let Ok(QueryResult::Command { notices, .. }) = &result {
                for n in notices {
                    client.feed(PgWireBackendMessage::NoticeResponse(notice_response(n))).await?;
                }
            }
            last = Some(result);
        }
        match last {
            None => Ok(Response::EmptyQuery),
            // An Err (not Response::Error) makes pgwire skip to Sync.
            Some(Err(e)) => Err(pgwire_error(e)),
            Some(Ok(QueryResult::Command { tag, .. })) => Ok(command_response(&tag)),
            Some(Ok(QueryResult::Deallocate { name })) => Ok(command_response(deallocate(client, name.as_deref()).map_err(pgwire_error)?)),
            Some(Ok(QueryResult::CopyIn { .. } | QueryResult::CopyOut { .. })) => Err(pgwire_error(SqlError::new("0A000", "COPY over the extended query protocol is not supported").with_hint("send COPY as a simple query (psql's \\copy and drivers' copy functions do)"))),
            Some(Ok(QueryResult::Rows { desc, rows, tag })) => {
                // Encode by the types Describe promised the client. A table
                // or view dropped and created again since may give other
                // columns: the client would decode them by the old types
                // (as PostgreSQL does, refuse).
                let desc = match &stmt.result {
                    Some(promised) if same_shape(promised, &desc) => promised.clone(),
                    Some(_) => return Err(pgwire_error(SqlError::new("0A000", "cached plan must not change result type").with_hint("prepare the statement again (its tables or views were replaced since it was prepared)"))),
                    None => desc,
                };
                let format = &portal.result_column_format;
                let encoded = data_rows(&desc, &rows, format).map_err(pgwire_error)?;
                let fields = Arc::new(fields(&desc, format));
                let mut response = QueryResponse::new(fields, stream::iter(encoded.into_iter().map(Ok)));
                // pgwire appends the number of rows sent (`INSERT 0` + ` 2`).
                if let Some(t) = tag {
                    response.set_command_tag(t.rsplit_once(' ').map_or(t.as_str(), |(verb, _)| verb));
                }
                Ok(Response::Query(response))
            }
        }
    }
}

/// Whether rows described by `actual` can be sent as `promised` says:
/// the same number of columns, each of the same type (integers of any
/// width, and numerics of any precision, count as one).
fn same_shape(promised: &RelationDesc, actual: &RelationDesc) -> bool {
    let kind = |t: ScalarType| match t {
        t if t.is_integer() => ScalarType::Int64,
        ScalarType::Numeric { .. } => ScalarType::Numeric { precision: None, scale: None },
        t => t,
    };
    promised.arity() == actual.arity() && promised.types.iter().zip(&actual.types).all(|(p, a)| kind(p.scalar) == kind(a.scalar))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_decodes_text_and_binary_per_parameter() {
        let stmt = Prepared { sql: String::new(), params: vec![ScalarType::Int32, ScalarType::Date, ScalarType::Text], uuids: vec![], result: None };
        let values = [Some(Bytes::from_static(b"42")), Some(Bytes::from_static(&[0, 0, 0, 1])), None];
        let got = bind_params(&stmt, &Format::Individual(vec![0, 1, 0]), &values).unwrap();
        assert_eq!(got, [Datum::Int(42), Datum::Date(10_958), Datum::Null]);
        let err = bind_params(&stmt, &Format::UnifiedText, &values[..1]).unwrap_err();
        assert_eq!(err.code, "08P01");
        let err = bind_params(&stmt, &Format::UnifiedText, &[Some(Bytes::from_static(b"x")), None, None]).unwrap_err();
        assert_eq!((err.code, err.detail.as_deref()), ("22P02", Some("in bind parameter $1")));
    }

    #[test]
    fn transaction_tags_and_blank_queries() {
        assert!(matches!(command_response("BEGIN"), Response::TransactionStart(_)));
        assert!(matches!(command_response("ROLLBACK"), Response::TransactionEnd(_)));
        assert!(matches!(command_response("INSERT 0 1"), Response::Execution(_)));
        assert!(is_blank(" ;\n;") && !is_blank("';'"));
    }
}
