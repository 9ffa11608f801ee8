//! `portkey mount <path> <template>`: check the template against the function, build the image,
//! record the mount in the project file and have the local backend serve it.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use portkey_lookup::FoundFunction;
use portkey_route::{Method, ParamInfo, Template};

use crate::args::{AuthArg, MountArgs, Target, image_settings};
use crate::commands::local::{ensure_backend, mount_url};
use crate::image::{build_function_image_with, find};
use crate::progress::status;
use crate::project::ProjectDirs;

pub fn run_mount(args: &MountArgs) -> Result<()> {
    let manifest_path = args.build.project.manifest_path.as_deref();
    let template = Template::parse(&args.template)?;
    let env = parse_env(&args.env)?;
    let dirs = ProjectDirs::find(manifest_path)?;
    if args.target == Target::Local && (args.role.is_some() || args.function_url || args.auth != AuthArg::None) {
        bail!(
            "--role, --function-url and --auth are settings of AWS deployments; add --target aws \
             (the local backend listens on 127.0.0.1 and has no IAM)"
        );
    }

    let found = find(manifest_path, &args.function)?;
    let method = match &args.method {
        Some(method) => Method::parse(method)?,
        None => default_method(&found),
    };
    check_template(&found, method, &template)?;
    if args.target == Target::Aws {
        let image = build_function_image_with(&dirs, found, &image_settings(args.size, args.no_method_shaking, args.arch))?;
        return crate::commands::aws::mount(
            &dirs,
            &args.aws,
            crate::commands::aws::AwsMount {
                image: &image,
                method,
                template: &template,
                memory_mb: args.memory,
                timeout_secs: args.timeout,
                env,
                role: args.role.clone(),
                function_url: args.function_url,
                auth: args.auth.auth(),
            },
        );
    }
    check_route_free(&dirs, &found.requested_path, method, &template)?;
    let image = build_function_image_with(&dirs, found, &image_settings(args.size, args.no_method_shaking, args.arch))?;

    let record = portkey_project::MountRecord {
        function: image.found.requested_path.clone(),
        method: method.as_str().to_string(),
        template: template.as_str().to_string(),
        bootstrap: image.bootstrap.clone(),
        zip: image.package.zip.clone(),
        code_sha256: image.package.code_sha256.clone(),
        timeout_secs: args.timeout,
        memory_mb: args.memory,
        env,
        updated_at: portkey_project::now_rfc3339(),
        build: portkey_project::BuildSettings {
            size: (args.size == crate::args::SizeArg::Full).then(|| "full".to_string()),
            no_method_shaking: args.no_method_shaking,
            arch: args.arch.recorded(),
        },
    };
    portkey_project::upsert_mount(&dirs.root, record)?;

    let server = ensure_backend(&dirs, args.port, None)?;
    let reload = portkey_local::client::reload(&server)?;
    if let Some(skipped) = reload.skipped.iter().find(|skipped| skipped.function == image.found.requested_path) {
        bail!(
            "the local backend does not serve `{}`: {}; fix it and mount again",
            skipped.function,
            skipped.error
        );
    }
    status(
        "Mounted",
        &format!("{} on {} {}", image.found.requested_path, method, template.path_pattern()),
    );
    println!("url: {}", mount_url(&server, &template));
    Ok(())
}

/// Returns the method of a mount without `--method`: ANY for a handler that takes the whole
/// `http::Request` or for an `axum::Router`, which handle every method themselves, and GET
/// otherwise.
fn default_method(found: &FoundFunction) -> Method {
    let handler = found.signature.output == portkey_lookup::ReturnShape::Router
        || found
            .signature
            .params
            .iter()
            .any(|param| matches!(param.shape, portkey_lookup::ParamShape::HttpRequest(_)));
    if handler { Method::Any } else { Method::Get }
}

/// Rejects, before anything is built, a template that cannot be served by this function.
fn check_template(found: &FoundFunction, method: Method, template: &Template) -> Result<()> {
    let params: Vec<ParamInfo<'_>> = found
        .signature
        .params
        .iter()
        .map(|param| ParamInfo {
            name: &param.name,
            ty: &param.ty,
            required: found.required(param),
        })
        .collect();
    template.check_bindings(method, &params)?;
    Ok(())
}

/// Rejects a route that another function already serves: the gateway could route a request to
/// only one of them.
fn check_route_free(dirs: &ProjectDirs, function: &str, method: Method, template: &Template) -> Result<()> {
    let project = portkey_project::ProjectFile::load(&dirs.root)?;
    for mount in project.mounts.iter().filter(|mount| mount.function != function) {
        let (Ok(other_method), Ok(other_template)) = (Method::parse(&mount.method), Template::parse(&mount.template)) else {
            continue;
        };
        let methods_overlap = other_method == method || other_method == Method::Any || method == Method::Any;
        if methods_overlap && other_template.overlaps(template) {
            bail!(
                "the route {} {} is already served by `{}` (mounted as \"{}\"); unmount it with \
                 `portkey unmount {}` or choose another path",
                method,
                other_template.path_pattern(),
                mount.function,
                mount.template,
                mount.function
            );
        }
    }
    Ok(())
}

fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("invalid --env `{pair}`: write it as KEY=VALUE");
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("invalid --env key `{key}`: use letters, digits and `_` only");
        }
        env.insert(key.to_string(), value.to_string());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_env_pairs() {
        let env = parse_env(&["A=1".into(), "B_2=x=y".into()]).unwrap();
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert_eq!(env.get("B_2").map(String::as_str), Some("x=y"));
    }

    #[test]
    fn parse_env_rejects_missing_equals() {
        let error = parse_env(&["NOPE".into()]).unwrap_err().to_string();
        assert!(error.contains("`NOPE`"), "{error}");
        assert!(error.contains("KEY=VALUE"), "{error}");
    }

    #[test]
    fn parse_env_rejects_bad_key() {
        let error = parse_env(&["A-B=1".into()]).unwrap_err().to_string();
        assert!(error.contains("`A-B`"), "{error}");
    }
}
