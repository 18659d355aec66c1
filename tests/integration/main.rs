//! Every integration test in one binary (one link of the SDKs instead of one per
//! area); each area is a module.

#[path = "../support/mod.rs"]
mod support;

mod approvals_mocks;
mod audit_moto;
mod book;
mod cfn_moto;
mod cli;
mod cli_errors;
mod collect_batch_mocks;
mod collect_faults;
mod collect_moto;
mod compliance;
mod compliance_moto;
mod connections_mocks;
mod deploy_configs_mocks;
mod drift;
mod ecs_moto;
mod escalation_scope;
mod faults_moto;
mod fix_patch;
mod graph;
mod hostile;
mod hostile_moto;
mod html;
mod iac;
mod iac_mocks;
mod iac_moto;
mod lambda_moto;
mod merge;
mod org_moto;
mod own_roles_unknown;
mod paths_mocks;
mod paths_moto;
mod policies;
mod reference_profile;
mod remediate_mocks;
mod remediate_moto;
mod remediate_passes_moto;
mod rule_fixtures;
mod rules_catalog;
mod s3_source_mocks;
mod s3_source_moto;
mod sarif;
mod secret_classifier;
mod secrets_moto;
mod shipping;
mod template_mode;
mod tfplan_mode;
mod unknown_moto;
mod webhooks_mocks;
mod webhooks_moto;
mod webhooks_reports;
mod xacct_codedeploy_moto;
mod xacct_moto;
