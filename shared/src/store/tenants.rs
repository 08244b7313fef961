//! Tenants, their wrapped keys and their API tokens.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};

use super::{applied, dynamo_err, table_keys, Page, Store};
use crate::domain::member::MAX_TOKENS_PER_MEMBER;
use crate::domain::portal::PortalSettings;
use crate::domain::signing_key::SigningKeySet;
use crate::domain::{ApiToken, Tenant, TenantKeyRecord};
use crate::{Error, Result};

impl Store {
    /// Creates a tenant together with its first key, in one transaction.
    pub async fn create_tenant(&self, tenant: &Tenant, key: &TenantKeyRecord) -> Result<()> {
        let tenant_item = Self::item(tenant, table_keys::tenant(&tenant.id))?;
        let key_item = Self::item(key, table_keys::tenant_key(&tenant.id, &key.id))?;
        let put = |item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| Error::internal(e.to_string()))
        };
        self.client
            .transact_write_items()
            .transact_items(put(tenant_item)?)
            .transact_items(put(key_item)?)
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    pub async fn get_tenant(&self, tenant_id: &str) -> Result<Option<Tenant>> {
        self.get(table_keys::tenant(tenant_id)).await
    }

    /// Replaces a tenant's portal settings if they are still at `version` (the version read);
    /// `Ok(false)` when they changed meanwhile (or the tenant is gone).
    pub async fn set_portal_settings(
        &self,
        tenant_id: &str,
        settings: &PortalSettings,
        version: u64,
    ) -> Result<bool> {
        let condition = if version == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(#v) OR #v = :v)"
        } else {
            "attribute_exists(pk) AND #v = :v"
        };
        let value = serde_dynamo::to_attribute_value(settings)
            .map_err(|e| Error::internal(e.to_string()))?;
        applied(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::tenant(tenant_id))))
                .update_expression("SET #p = :p, #v = :next")
                .condition_expression(condition)
                .expression_attribute_names("#p", "portal")
                .expression_attribute_names("#v", "portalVersion")
                .expression_attribute_values(":p", value)
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
                .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()))
                .send()
                .await,
        )
    }

    /// The tenants among `ids` that exist (one strongly consistent `BatchGetItem` per 100).
    pub async fn get_tenants(&self, ids: &[String]) -> Result<Vec<Tenant>> {
        self.batch_get(ids.iter().map(|id| table_keys::tenant(id)).collect())
            .await?
            .into_iter()
            .map(Self::record)
            .collect()
    }

    pub async fn get_tenant_key(
        &self,
        tenant_id: &str,
        key_id: &str,
    ) -> Result<Option<TenantKeyRecord>> {
        self.get(table_keys::tenant_key(tenant_id, key_id)).await
    }

    /// Stores a new token. A token a member answers for is written together with its hash in
    /// that member's record, on condition that they are still a member with room for it
    /// ([`MAX_TOKENS_PER_MEMBER`]): a member removed meanwhile cannot leave a token behind.
    pub async fn put_token(&self, token: &ApiToken) -> Result<()> {
        let item = Self::item(token, table_keys::token(&token.token_hash))?;
        let item = Self::with_gsi1(
            item,
            &token.tenant_id,
            format!(
                "{}{}#{}",
                table_keys::listing::TOKENS,
                crate::time::format(token.created_at),
                token.id
            ),
        );
        let Some(email) = token
            .answerable()
            .and_then(|p| p.member().map(str::to_string))
        else {
            if !self.put_new(item).await? {
                return Err(Error::Conflict("token already exists".into()));
            }
            return Ok(());
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        let member = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::member(&token.tenant_id, &email))))
            .update_expression("ADD tokenHashes :hash, #version :one")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(tokenHashes) OR size(tokenHashes) < :max)",
            )
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":hash", AttributeValue::Ss(vec![token.token_hash.clone()]))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(MAX_TOKENS_PER_MEMBER.to_string()))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        let written = self
            .transact(vec![
                TransactWriteItem::builder().put(put).build(),
                TransactWriteItem::builder().update(member).build(),
            ])
            .await?;
        if written {
            return Ok(());
        }
        Err(match self.get_member(&token.tenant_id, &email).await? {
            None => Error::Conflict(format!(
                "{email} is no longer a member of this team, so API tokens cannot be created on their behalf"
            )),
            Some(m) if m.token_hashes.len() >= MAX_TOKENS_PER_MEMBER => Error::Conflict(format!(
                "{email} already answers for {MAX_TOKENS_PER_MEMBER} API tokens; revoke one first"
            )),
            Some(_) => Error::Conflict("the team changed meanwhile; try again".into()),
        })
    }

    /// The token with this hash, if it exists.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        self.get(table_keys::token(token_hash)).await
    }

    /// The token with this hash as admin authentication reads it: from the per-process cache
    /// while its entry is young enough (`read_cache`: a revocation elsewhere applies within
    /// the cache's lifetime), else one consistent read.
    pub async fn authenticating_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        if let Some(token) = self.caches.tokens.get(token_hash) {
            return Ok(Some(token));
        }
        let token = self.token_by_hash(token_hash).await?;
        if let Some(t) = &token {
            self.caches.tokens.insert(token_hash.to_string(), t.clone());
        }
        Ok(token)
    }

    pub async fn list_tokens(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ApiToken>> {
        self.list_tenant(
            tenant_id,
            table_keys::listing::TOKENS,
            limit,
            cursor,
            true,
            &[],
        )
        .await
    }

    /// Deletes a token of the tenant by its hash (in this process's cache too: it stops
    /// working here at once), and takes it off the record of the member who answered for it.
    /// `Ok(false)` when there was none.
    pub async fn delete_token(&self, tenant_id: &str, token_hash: &str) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::token(token_hash))))
            .condition_expression("attribute_exists(pk) AND tenantId = :t")
            .expression_attribute_values(":t", AttributeValue::S(tenant_id.into()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        self.caches.tokens.invalidate(token_hash);
        let deleted: Option<ApiToken> = match out {
            Ok(out) => out.attributes.map(Self::record).transpose()?,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(dynamo_err(e)),
        };
        if let Some(email) = deleted
            .and_then(|t| t.answerable())
            .and_then(|p| p.member().map(str::to_string))
        {
            // Tidying only (a hash left behind names no token); a removed member has no record.
            applied(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key_attrs(table_keys::member(tenant_id, &email))))
                    .update_expression("DELETE tokenHashes :hash")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(
                        ":hash",
                        AttributeValue::Ss(vec![token_hash.to_string()]),
                    )
                    .send()
                    .await,
            )?;
        }
        Ok(true)
    }

    /// Every key of a tenant (wrapped forms only).
    pub async fn tenant_keys(&self, tenant_id: &str) -> Result<Vec<TenantKeyRecord>> {
        self.all_tenant_items(tenant_id, table_keys::kind::TENANT_KEY)
            .await
    }

    /// Stores a new tenant key. Never replaces one: a key's wrapped form is the only way to
    /// open what was sealed under it.
    pub async fn put_tenant_key(&self, key: &TenantKeyRecord) -> Result<()> {
        let item = Self::item(key, table_keys::tenant_key(&key.tenant_id, &key.id))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict(format!(
                "tenant key {} already exists",
                key.id
            )));
        }
        Ok(())
    }

    /// Writes a tenant's key fields as `tenant` holds them (the active tenant key, the signing
    /// key and its public half), with the signing key set when one is given, in one
    /// transaction, and only if neither changed since it was read (`tenant.version`,
    /// `set.version`): a rotation never puts back a key another one replaced meanwhile. The
    /// tenant's other fields are left as they are. `Ok(false)` when another write came first
    /// (read again and decide again).
    pub async fn save_tenant_keys(
        &self,
        tenant: &Tenant,
        set: Option<&SigningKeySet>,
    ) -> Result<bool> {
        let condition = if tenant.version == 0 {
            // Tenants created before the version was recorded have none.
            "attribute_exists(pk) AND (attribute_not_exists(#v) OR #v = :v)"
        } else {
            "#v = :v"
        };
        let s = |v: &str| AttributeValue::S(v.to_string());
        let n = |v: u64| AttributeValue::N(v.to_string());
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::tenant(&tenant.id))))
            .update_expression(
                "SET activeKeyId = :active, signingKeySealed = :sealed, \
                 signingPublicKey = :public, #v = :next",
            )
            .condition_expression(condition)
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":active", s(&tenant.active_key_id))
            .expression_attribute_values(":sealed", s(&tenant.signing_key_sealed))
            .expression_attribute_values(":public", s(&tenant.signing_public_key))
            .expression_attribute_values(":v", n(tenant.version))
            .expression_attribute_values(":next", n(tenant.version + 1))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        if let Some(set) = set {
            items.push(
                TransactWriteItem::builder()
                    .put(self.signing_key_set_put(set)?)
                    .build(),
            );
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // A version moved on (condition failed) or another transaction held the item
            // (conflict): nothing was written.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().iter().any(|r| matches!(
                            r.code(),
                            Some("ConditionalCheckFailed" | "TransactionConflict")
                        ))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(dynamo_err(e)),
        }
    }

    /// Deletes a tenant, its Stripe apps (so no webhook matches them: at once on their own
    /// URLs, within the candidate cache's lifetime on the shared URL), its API tokens and its
    /// team members (its other records become unreachable: no token or member can name them
    /// any more). Dashboard sessions end at once: each page reads the tenant with the member.
    pub async fn delete_tenant(&self, tenant_id: &str) -> Result<()> {
        for app in self.all_tenant_apps(tenant_id).await? {
            self.delete_app(tenant_id, &app.id).await?;
        }
        let mut cursor = None;
        loop {
            let page = self.list_tokens(tenant_id, 200, cursor.as_deref()).await?;
            for t in &page.items {
                self.delete_token(tenant_id, &t.token_hash).await?;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        for m in self.members(tenant_id).await? {
            self.delete_member(tenant_id, &m.email).await?;
        }
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::tenant(tenant_id))))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// Increments the global product-id counter and returns the new id.
    pub async fn next_product_id(&self) -> Result<String> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::product_counter())))
            .update_expression("ADD #v :one")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(dynamo_err)?;
        out.attributes
            .and_then(|a| a.get("value").and_then(|v| v.as_n().ok()).cloned())
            .ok_or_else(|| Error::internal("product counter returned no value"))
    }
}
