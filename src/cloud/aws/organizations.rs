//! AWS Organizations: the ACTIVE accounts beneath an organizational unit, nested OUs included,
//! read with the organization account's credentials (the management account or a delegated
//! administrator). Organizations answers in us-east-1 whatever the caller's region.

use super::AwsCloud;
use super::errors::api;
use crate::cloud::{CloudError, OrgAccount};
use crate::model::Target;

impl AwsCloud {
    pub(super) async fn organization_accounts(
        &self,
        via: &Target,
        parent: &str,
    ) -> Result<Vec<OrgAccount>, CloudError> {
        let config = self.verified(via).await?;
        let org = aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::config::Builder::from(&config)
                .interceptor(super::errors::RetryNotice)
                .build(),
        );
        let mut out = Vec::new();
        // Breadth first over the OU tree; each listing paginated.
        let mut parents = vec![parent.to_string()];
        while let Some(p) = parents.pop() {
            let mut pages = org
                .list_accounts_for_parent()
                .parent_id(&p)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| api("ListAccountsForParent", via, e))?;
                for a in page.accounts() {
                    let Some(id) = a.id() else { continue };
                    // `State` replaces the deprecated `Status`; read either.
                    let state = a
                        .state()
                        .map(|s| s.as_str().to_string())
                        .or_else(|| a.status().map(|s| s.as_str().to_string()))
                        .unwrap_or_default();
                    out.push(OrgAccount {
                        id: id.to_string(),
                        name: a.name().unwrap_or_default().to_string(),
                        state,
                        parent: p.clone(),
                    });
                }
            }
            let mut pages = org
                .list_organizational_units_for_parent()
                .parent_id(&p)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| api("ListOrganizationalUnitsForParent", via, e))?;
                parents.extend(
                    page.organizational_units()
                        .iter()
                        .filter_map(|u| u.id().map(str::to_string)),
                );
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}
