//! The dashboard's records: team members, one-time sign-in links, sessions, and the
//! rate-limit counters of sign-in. Links and sessions are keyed by the SHA-256 of their token
//! (a read of the table gives nothing usable) and carry a `ttl`, so DynamoDB deletes them once
//! expired; reads check the expiry too, since deletion by TTL is not immediate.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{applied, dynamo_err, keys, Store};
use crate::domain::member::{Member, Session, SignInLink};
use crate::{Error, Result};

impl Store {
    fn member_item(m: &Member) -> Result<super::Item> {
        let mut item = Self::item(m, keys::member(&m.tenant_id, &m.email))?;
        item.insert(
            keys::GSI2_PK.into(),
            AttributeValue::S(keys::member_partition(&m.email)),
        );
        item.insert(keys::GSI2_SK.into(), AttributeValue::S(m.tenant_id.clone()));
        Ok(item)
    }

    /// Adds a member; `Ok(false)` when the email is already one.
    pub async fn add_member(&self, m: &Member) -> Result<bool> {
        self.put_new(Self::member_item(m)?).await
    }

    /// Replaces an existing member (a role change).
    pub async fn put_member(&self, m: &Member) -> Result<()> {
        self.put_existing(Self::member_item(m)?, &m.tenant_id).await
    }

    pub async fn get_member(&self, tenant_id: &str, email: &str) -> Result<Option<Member>> {
        self.get(keys::member(tenant_id, email)).await
    }

    /// A tenant's members (teams are small).
    pub async fn members(&self, tenant_id: &str) -> Result<Vec<Member>> {
        self.all_tenant_items(tenant_id, keys::kind::MEMBER).await
    }

    pub async fn delete_member(&self, tenant_id: &str, email: &str) -> Result<bool> {
        self.delete_owned(keys::member(tenant_id, email), tenant_id)
            .await
    }

    /// The tenants an email is a member of (`gsi2`).
    pub async fn memberships(&self, email: &str) -> Result<Vec<Member>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::GSI2_PK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::member_partition(email)))
            .limit(100)
            .send()
            .await
            .map_err(dynamo_err)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(Self::record)
            .collect()
    }

    pub async fn put_sign_in_link(&self, token_hash: &str, link: &SignInLink) -> Result<()> {
        let item = Self::item(link, keys::sign_in_link(token_hash))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("sign-in link already exists".into()));
        }
        Ok(())
    }

    /// A link, if it exists and has not expired (the mailer reads it to write the email).
    pub async fn get_sign_in_link(&self, token_hash: &str) -> Result<Option<SignInLink>> {
        let link: Option<SignInLink> = self.get(keys::sign_in_link(token_hash)).await?;
        Ok(link.filter(|l| l.expires_at > crate::time::now()))
    }

    /// Uses a link up: deletes it and returns what it was, so exactly one request can consume
    /// it; `None` when it never existed, was used, or has expired.
    pub async fn take_sign_in_link(&self, token_hash: &str) -> Result<Option<SignInLink>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::sign_in_link(token_hash))))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => {
                let link: Option<SignInLink> = out.attributes.map(Self::record).transpose()?;
                Ok(link.filter(|l| l.expires_at > crate::time::now()))
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

    pub async fn put_session(&self, session_hash: &str, session: &Session) -> Result<()> {
        let item = Self::item(session, keys::session(session_hash))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("session already exists".into()));
        }
        Ok(())
    }

    /// A session, if it exists and has not expired.
    pub async fn get_session(&self, session_hash: &str) -> Result<Option<Session>> {
        let session: Option<Session> = self.get(keys::session(session_hash)).await?;
        Ok(session.filter(|s| s.expires_at > crate::time::now()))
    }

    pub async fn delete_session(&self, session_hash: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::session(session_hash))))
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
                .set_key(Some(Self::key_attrs(keys::rate_window(
                    scope,
                    subject_hash,
                    window,
                ))))
                .update_expression("ADD #n :one SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                .expression_attribute_names("#n", "attempts")
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
                .expression_attribute_values(":ttl", AttributeValue::N(expires.to_string()))
                .send()
                .await,
        )
    }
}
