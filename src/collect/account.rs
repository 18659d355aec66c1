//! AWS Account Management: the regions enabled in an account, for
//! `--region all-enabled`.

use aws_sdk_account::types::RegionOptStatus;

use super::call::{self, Ctx};
use crate::model::ReadError;

/// The regions enabled in the account (opted in, or enabled by default),
/// sorted. Needs `account:ListRegions`.
pub async fn enabled_regions(
    ctx: &Ctx,
    client: &aws_sdk_account::Client,
) -> Result<Vec<String>, ReadError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = ctx
            .call(
                "account:ListRegions",
                client
                    .list_regions()
                    .region_opt_status_contains(RegionOptStatus::Enabled)
                    .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await
            .map_err(|e| call::read_error("account:ListRegions", &e))?;
        for r in resp.regions() {
            let enabled = matches!(
                r.region_opt_status(),
                Some(RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault)
            );
            if let (true, Some(name)) = (enabled, r.region_name()) {
                out.push(name.to_string());
            }
        }
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
