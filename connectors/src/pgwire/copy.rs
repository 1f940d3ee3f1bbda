//! The data of a COPY FROM STDIN: pgwire hands each CopyData message here
//! while the connection is in the copy-in state; at CopyDone the rows are
//! decoded and inserted (`eddy_sql::copy::insert_statements`), as one
//! implicit transaction, or as part of the session's open block.

use std::fmt::Debug;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::results::Tag;
use pgwire::api::ClientInfo;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::PgWireBackendMessage;

use super::results::pgwire_error;
use super::Conn;
use eddy_sql::SqlError;

/// Rows per INSERT statement the copied rows become.
const ROWS_PER_INSERT: usize = 1000;

#[async_trait]
impl CopyHandler for Conn {
    async fn on_copy_data<C>(&self, _client: &mut C, data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some((_, _, buf)) = self.session.copy_in.lock().unwrap().as_mut() {
            buf.extend_from_slice(&data.data);
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some((copy, columns, data)) = self.session.copy_in.lock().unwrap().take() else {
            return Err(pgwire_error(SqlError::new("08P01", "CopyDone without a COPY FROM STDIN")));
        };
        let text = String::from_utf8(data).map_err(|_| pgwire_error(SqlError::new("22021", "COPY data is not valid UTF-8")))?;
        let (statements, rows) = eddy_sql::copy::insert_statements(&copy, &text, columns, ROWS_PER_INSERT).map_err(pgwire_error)?;
        if rows > 0 {
            let results = self.session.handler.execute(self.session.id()?, &statements.join(";\n"), &[]).await;
            if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
                let context = format!("while loading COPY data into {}", copy.table);
                let detail = match &e.detail {
                    Some(d) => format!("{} ({})", d, context),
                    None => context,
                };
                return Err(pgwire_error(e.with_detail(detail)));
            }
        }
        client.send(PgWireBackendMessage::CommandComplete(Tag::new("COPY").with_rows(rows).into())).await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.session.copy_in.lock().unwrap().take();
        pgwire_error(SqlError::new("57014", format!("COPY from stdin failed: {}", fail.message)))
    }
}
