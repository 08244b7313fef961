//! The customer portal's records: buyers' sessions (apart from the dashboard's), read together
//! with the tenant whose portal it is, and the products a buyer's licenses name.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{dynamo_err, table_keys, Item, Store};
use crate::domain::portal::PortalSession;
use crate::domain::{Product, Tenant};
use crate::{Error, Result};

fn is(item: &Item, key: &table_keys::Key) -> bool {
    matches!(item.get(table_keys::PK), Some(AttributeValue::S(pk)) if *pk == key.0)
        && matches!(item.get(table_keys::SK), Some(AttributeValue::S(sk)) if *sk == key.1)
}

impl Store {
    pub async fn put_portal_session(
        &self,
        session_hash: &str,
        session: &PortalSession,
    ) -> Result<()> {
        let item = Self::item(session, table_keys::portal_session(session_hash))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("portal session already exists".into()));
        }
        Ok(())
    }

    /// A tenant and, when `session_hash` is given, the portal session under it if it has not
    /// expired: one `BatchGetItem` (strongly consistent), what every portal page starts with.
    pub async fn tenant_and_portal_session(
        &self,
        tenant_id: &str,
        session_hash: Option<&str>,
    ) -> Result<(Option<Tenant>, Option<PortalSession>)> {
        let tenant_key = table_keys::tenant(tenant_id);
        let Some(hash) = session_hash else {
            return Ok((self.get(tenant_key).await?, None));
        };
        let session_key = table_keys::portal_session(hash);
        let mut tenant = None;
        let mut session = None;
        for item in self
            .batch_get(vec![tenant_key.clone(), session_key.clone()])
            .await?
        {
            if is(&item, &tenant_key) {
                tenant = Some(Self::record::<Tenant>(item)?);
            } else if is(&item, &session_key) {
                session = Some(Self::record::<PortalSession>(item)?);
            }
        }
        let now = crate::time::now();
        Ok((tenant, session.filter(|s| s.expires_at > now)))
    }

    pub async fn delete_portal_session(&self, session_hash: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::portal_session(
                session_hash,
            ))))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// The tenant's products among `ids` (one `BatchGetItem`); missing or foreign ones are
    /// left out.
    pub async fn get_tenant_products(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<Product>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut unique: Vec<String> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let mut products = Vec::new();
        for item in self
            .batch_get(unique.iter().map(|id| table_keys::product(id)).collect())
            .await?
        {
            let p: Product = Self::record(item)?;
            if p.tenant_id == tenant_id {
                products.push(p);
            }
        }
        Ok(products)
    }
}
