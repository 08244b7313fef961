//! Team members and their way in (the dashboard's records): members, one-time links and the
//! requests that email them, sessions, and the rate-limit counters of sign-in. Links and sessions are keyed by the
//! SHA-256 of their token (a read of the table gives nothing usable) and carry a `ttl`, so
//! DynamoDB deletes them once expired; reads check the expiry too, since deletion by TTL is
//! not immediate.
//!
//! Team changes that could leave a tenant without an owner are transactions: the member's
//! write is conditional on the version read, and each owner the change relies on is checked
//! to still be one when it commits, so two owners demoting (or removing) each other at once
//! cannot both succeed.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, ReturnValue, TransactWriteItem, Update,
};

use super::{applied, dynamo_err, table_keys, Item, Store};
use crate::domain::member::{Member, Role, Session, SignInRequest, MAX_TOKENS_PER_MEMBER};
use crate::domain::one_time_link::OneTimeLink;
use crate::domain::{ApiToken, Tenant};
use crate::{Error, Result};

/// What a member's removal does with the API tokens they answer for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokensOfRemoved {
    /// Revoke them (deleted in the removal's transaction).
    Revoke,
    /// Hand them over to this owner (who then answers for them).
    HandOverTo(String),
}

/// Who a session stands for, as read with its tenant.
#[derive(Debug, Clone)]
pub enum SessionHolder {
    Member(Member),
    Token(ApiToken),
}

fn built<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::internal(e.to_string()))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The condition that a record's `version` is still `version` (`:version`; a record stored
/// before it had one reads as 0).
fn version_is(version: u64) -> &'static str {
    if version == 0 {
        "(attribute_not_exists(#version) OR #version = :version)"
    } else {
        "#version = :version"
    }
}

impl Store {
    fn member_item(m: &Member) -> Result<Item> {
        let mut item = Self::item(m, table_keys::member(&m.tenant_id, &m.email))?;
        item.insert(
            table_keys::GSI2_PK.into(),
            AttributeValue::S(table_keys::member_partition(&m.email)),
        );
        item.insert(
            table_keys::GSI2_SK.into(),
            AttributeValue::S(m.tenant_id.clone()),
        );
        Ok(item)
    }

    /// Runs a transaction: `Ok(false)` when DynamoDB cancelled it (a condition failed, or a
    /// concurrent transaction touched one of its items).
    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(dynamo_err(e)),
        }
    }

    /// Adds a member; `Ok(false)` when the email is already one.
    pub async fn add_member(&self, m: &Member) -> Result<bool> {
        self.put_new(Self::member_item(m)?).await
    }

    pub async fn get_member(&self, tenant_id: &str, email: &str) -> Result<Option<Member>> {
        self.get(table_keys::member(tenant_id, email)).await
    }

    /// A tenant's members (teams are small), strongly consistent.
    pub async fn members(&self, tenant_id: &str) -> Result<Vec<Member>> {
        self.all_tenant_items(tenant_id, table_keys::kind::MEMBER)
            .await
    }

    /// Deletes a member as it stands, whatever its version (tenant deletion). Team changes go
    /// through [`Store::remove_member`].
    pub async fn delete_member(&self, tenant_id: &str, email: &str) -> Result<bool> {
        self.delete_owned(table_keys::member(tenant_id, email), tenant_id)
            .await
    }

    /// The tenants an email is a member of (`gsi2`), every page of them.
    pub async fn memberships(&self, email: &str) -> Result<Vec<Member>> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(table_keys::GSI2)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", table_keys::GSI2_PK)
                .expression_attribute_values(":pk", s(&table_keys::member_partition(email)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(dynamo_err)?;
            for item in out.items.unwrap_or_default() {
                all.push(Self::record(item)?);
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(all),
            }
        }
    }

    /// Checks, when the transaction commits, that `email` is still an owner of the tenant.
    fn owner_check(&self, tenant_id: &str, email: &str) -> Result<TransactWriteItem> {
        let check = built(
            ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::member(tenant_id, email))))
                .condition_expression("#role = :owner")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":owner", s(Role::Owner.as_str()))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Changes a member's role if it is still at the version read, and every member in
    /// `owners` is still an owner. `Ok(false)` when not (the team changed meanwhile).
    pub async fn change_member_role(
        &self,
        member: &Member,
        role: Role,
        owners: &[&str],
    ) -> Result<bool> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::member(
                &member.tenant_id,
                &member.email,
            ))))
            .update_expression("SET #role = :role, #version = :next")
            .condition_expression(format!(
                "attribute_exists(pk) AND {}",
                version_is(member.version)
            ))
            .expression_attribute_names("#role", "role")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":role", s(role.as_str()))
            .expression_attribute_values(":next", n(member.version + 1))
            .expression_attribute_values(":version", n(member.version));
        let mut items = vec![TransactWriteItem::builder()
            .update(built(update.build())?)
            .build()];
        for o in owners {
            items.push(self.owner_check(&member.tenant_id, o)?);
        }
        self.transact(items).await
    }

    /// Removes a member if still at the version read, with the API tokens they answer for
    /// (`tokens`: those of `member.token_hashes` that exist), in one transaction: revoked, or
    /// handed over to an owner (who must still be one, and stay within
    /// [`MAX_TOKENS_PER_MEMBER`]); every member in `owners` must still be an owner.
    /// `Ok(false)` when a condition failed (the team or a token changed meanwhile).
    pub async fn remove_member(
        &self,
        member: &Member,
        tokens: &[ApiToken],
        fate: &TokensOfRemoved,
        owners: &[&str],
    ) -> Result<bool> {
        let tenant_id = &member.tenant_id;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::member(
                tenant_id,
                &member.email,
            ))))
            .condition_expression(format!(
                "attribute_exists(pk) AND {}",
                version_is(member.version)
            ))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(member.version));
        let mut items = vec![TransactWriteItem::builder()
            .delete(built(delete.build())?)
            .build()];
        // The receiver of handed-over tokens answers for them from now on: its update (which
        // also checks it is still an owner) stands in for its owner check.
        let receiver = match fate {
            TokensOfRemoved::HandOverTo(email) if !tokens.is_empty() => Some(email.as_str()),
            _ => None,
        };
        for o in owners.iter().filter(|o| Some(**o) != receiver) {
            items.push(self.owner_check(tenant_id, o)?);
        }
        for t in tokens {
            let key = Some(Self::key_attrs(table_keys::token(&t.token_hash)));
            let item = match (fate, receiver) {
                (TokensOfRemoved::HandOverTo(_), Some(to)) => TransactWriteItem::builder()
                    .update(built(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(key)
                            .update_expression("SET handedOverTo = :to")
                            .condition_expression("tenantId = :t")
                            .expression_attribute_values(":t", s(tenant_id))
                            .expression_attribute_values(":to", s(to))
                            .build(),
                    )?)
                    .build(),
                _ => TransactWriteItem::builder()
                    .delete(built(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(key)
                            .condition_expression("tenantId = :t")
                            .expression_attribute_values(":t", s(tenant_id))
                            .build(),
                    )?)
                    .build(),
            };
            items.push(item);
        }
        if let Some(to) = receiver {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::member(tenant_id, to))))
                .update_expression("ADD tokenHashes :hashes, #version :one")
                .condition_expression(
                    "#role = :owner AND (attribute_not_exists(tokenHashes) OR size(tokenHashes) <= :room)",
                )
                .expression_attribute_names("#role", "role")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":owner", s(Role::Owner.as_str()))
                .expression_attribute_values(
                    ":hashes",
                    AttributeValue::Ss(tokens.iter().map(|t| t.token_hash.clone()).collect()),
                )
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(
                    ":room",
                    n(MAX_TOKENS_PER_MEMBER.saturating_sub(tokens.len())),
                );
            items.push(
                TransactWriteItem::builder()
                    .update(built(update.build())?)
                    .build(),
            );
        }
        let done = self.transact(items).await?;
        for t in tokens {
            self.caches.tokens.invalidate(&t.token_hash);
        }
        Ok(done)
    }

    /// The API tokens of this tenant among `hashes` (a member's), as they are now.
    pub async fn tokens_by_hash(
        &self,
        tenant_id: &str,
        hashes: &[String],
    ) -> Result<Vec<ApiToken>> {
        let found = self
            .batch_get(hashes.iter().map(|h| table_keys::token(h)).collect())
            .await?;
        let mut tokens = Vec::with_capacity(found.len());
        for item in found {
            let t: ApiToken = Self::record(item)?;
            if t.tenant_id == tenant_id {
                tokens.push(t);
            }
        }
        Ok(tokens)
    }

    /// Who a session stands for (its member, or its API token) and its tenant, read together in
    /// one strongly consistent `BatchGetItem`: a removed member, a revoked token or a deleted
    /// tenant ends the session at once, at no extra call per page.
    pub async fn session_holder(
        &self,
        session: &Session,
    ) -> Result<Option<(SessionHolder, Tenant)>> {
        let holder_key = match (&session.email, &session.token_hash) {
            (Some(email), _) => table_keys::member(&session.tenant_id, email),
            (None, Some(hash)) => table_keys::token(hash),
            (None, None) => return Ok(None),
        };
        let tenant_key = table_keys::tenant(&session.tenant_id);
        let items = self
            .batch_get(vec![holder_key.clone(), tenant_key.clone()])
            .await?;
        let is = |item: &Item, key: &table_keys::Key| {
            matches!(item.get(table_keys::PK), Some(AttributeValue::S(pk)) if *pk == key.0)
                && matches!(item.get(table_keys::SK), Some(AttributeValue::S(sk)) if *sk == key.1)
        };
        let mut holder = None;
        let mut tenant = None;
        for item in items {
            if is(&item, &tenant_key) {
                tenant = Some(Self::record::<Tenant>(item)?);
            } else if is(&item, &holder_key) {
                holder = Some(if session.email.is_some() {
                    SessionHolder::Member(Self::record(item)?)
                } else {
                    SessionHolder::Token(Self::record(item)?)
                });
            }
        }
        Ok(holder.zip(tenant))
    }

    pub async fn put_one_time_link(&self, token_hash: &str, link: &OneTimeLink) -> Result<()> {
        let item = Self::item(link, table_keys::one_time_link(token_hash))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("one-time link already exists".into()));
        }
        Ok(())
    }

    /// A link, if it exists and works for `purpose` (reading it changes nothing).
    pub async fn get_one_time_link(
        &self,
        token_hash: &str,
        purpose: &str,
    ) -> Result<Option<OneTimeLink>> {
        let link: Option<OneTimeLink> = self.get(table_keys::one_time_link(token_hash)).await?;
        Ok(link.filter(|l| l.is_usable(purpose, crate::time::now())))
    }

    /// Uses a link up: deletes it (if it is one of `purpose`) and returns what it was, so
    /// exactly one request can consume it; `None` when it never existed, was used, is of
    /// another purpose, or has expired.
    pub async fn take_one_time_link(
        &self,
        token_hash: &str,
        purpose: &str,
    ) -> Result<Option<OneTimeLink>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::one_time_link(token_hash))))
            .condition_expression("attribute_exists(pk) AND purpose = :purpose")
            .expression_attribute_values(":purpose", s(purpose))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => {
                let link: Option<OneTimeLink> = out.attributes.map(Self::record).transpose()?;
                Ok(link.filter(|l| l.is_usable(purpose, crate::time::now())))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(dynamo_err(e)),
        }
    }

    pub async fn put_sign_in_request(&self, request: &SignInRequest) -> Result<()> {
        let item = Self::item(request, table_keys::sign_in_request(&request.id))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("sign-in request already exists".into()));
        }
        Ok(())
    }

    pub async fn get_sign_in_request(&self, request_id: &str) -> Result<Option<SignInRequest>> {
        self.get(table_keys::sign_in_request(request_id)).await
    }

    /// Records that a request's email was sent; `Ok(false)` if it already was.
    pub async fn mark_sign_in_request_sent(&self, request_id: &str) -> Result<bool> {
        applied(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::sign_in_request(
                    request_id,
                ))))
                .update_expression("SET sentAt = :now")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(sentAt)")
                .expression_attribute_values(":now", s(&crate::time::format(crate::time::now())))
                .send()
                .await,
        )
    }

    pub async fn put_session(&self, session_hash: &str, session: &Session) -> Result<()> {
        let item = Self::item(session, table_keys::session(session_hash))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("session already exists".into()));
        }
        Ok(())
    }

    /// A session, if it exists and has not expired.
    pub async fn get_session(&self, session_hash: &str) -> Result<Option<Session>> {
        let session: Option<Session> = self.get(table_keys::session(session_hash)).await?;
        Ok(session.filter(|s| s.expires_at > crate::time::now()))
    }

    pub async fn delete_session(&self, session_hash: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::session(session_hash))))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// Counts one attempt of `subject` in the current window of `scope`; `Ok(false)` when the
    /// window already holds `limit` attempts. One conditional write: concurrent attempts on
    /// any number of instances are counted exactly.
    pub async fn count_attempt(
        &self,
        scope: &str,
        subject_hash: &str,
        window: i64,
        expires: i64,
        limit: u32,
    ) -> Result<bool> {
        applied(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::rate_window(
                    scope,
                    subject_hash,
                    window,
                ))))
                .update_expression("ADD #n :one SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                .expression_attribute_names("#n", "attempts")
                .expression_attribute_names("#ttl", table_keys::TTL)
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
                .expression_attribute_values(":ttl", AttributeValue::N(expires.to_string()))
                .send()
                .await,
        )
    }
}
