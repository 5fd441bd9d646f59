//! Validation tests for container settings and references: dependencies, health checks,
//! logging, volumes and mounts, environment, ulimits, Linux parameters, resources.

use serde_json::json;

use super::ec2_basic;
use super::support::*;
use crate::task_definition::*;

#[test]
fn dependencies() {
    let two = || {
        let mut i = ec2_basic();
        i.container_definitions.push(container(
            json!({"name": "db", "image": "postgres", "memory": 64}),
        ));
        i
    };
    let dep = |name: &str, condition: &str| {
        vec![ContainerDependency {
            container_name: name.into(),
            condition: condition.into(),
        }]
    };
    passes(two(), |i| web(i).depends_on = dep("db", "START"));
    client(two(), |i| web(i).depends_on = dep("cache", "START"),
        &["Container 'web': dependsOn[0]: cannot depend on container 'cache' because it does not exist"]);
    client(
        two(),
        |i| web(i).depends_on = dep("web", "START"),
        &["cannot depend on itself"],
    );
    invalid(
        two(),
        |i| web(i).depends_on = dep("db", "READY"),
        &[
            "dependsOn[0].condition",
            "START, COMPLETE, SUCCESS, HEALTHY",
        ],
    );
    client(
        two(),
        |i| web(i).depends_on = dep("db", "HEALTHY"),
        &["container 'db' has no healthCheck"],
    );
    client(two(), |i| web(i).depends_on = dep("db", "SUCCESS"),
        &["a dependency container with SUCCESS or COMPLETE condition cannot be an essential container", "'db'"]);
    client(
        two(),
        |i| {
            web(i).depends_on = dep("db", "START");
            i.container_definitions[1].depends_on = dep("web", "START");
        },
        &["Container dependencies contain a cycle: web -> db -> web."],
    );
}

#[test]
fn health_checks() {
    let hc = |cmd: &[&str]| {
        Some(HealthCheck {
            command: cmd.iter().map(|s| s.to_string()).collect(),
            ..HealthCheck::default()
        })
    };
    client(
        ec2_basic(),
        |i| web(i).health_check = hc(&[]),
        &["Container 'web': healthCheck.command must not be empty"],
    );
    client(
        ec2_basic(),
        |i| web(i).health_check = hc(&["curl", "-f", "localhost"]),
        &["must start with \"CMD\" or \"CMD-SHELL\", not \"curl\""],
    );
    client(
        ec2_basic(),
        |i| web(i).health_check = hc(&["CMD-SHELL"]),
        &["no command after \"CMD-SHELL\""],
    );
    let with = |f: fn(&mut HealthCheck)| {
        move |i: &mut RegisterTaskDefinitionInput| {
            let mut h = HealthCheck {
                command: vec!["CMD".into(), "true".into()],
                ..HealthCheck::default()
            };
            f(&mut h);
            web(i).health_check = Some(h);
        }
    };
    client(
        ec2_basic(),
        with(|h| h.interval = Some(4)),
        &["healthCheck.interval must be between 5 and 300; 4 was given"],
    );
    client(
        ec2_basic(),
        with(|h| h.timeout = Some(61)),
        &["healthCheck.timeout must be between 2 and 60"],
    );
    client(
        ec2_basic(),
        with(|h| h.retries = Some(0)),
        &["healthCheck.retries must be between 1 and 10"],
    );
    client(
        ec2_basic(),
        with(|h| h.start_period = Some(301)),
        &["healthCheck.startPeriod must be between 0 and 300"],
    );
    passes(
        ec2_basic(),
        with(|h| {
            h.interval = Some(300);
            h.timeout = Some(60);
            h.retries = Some(10);
            h.start_period = Some(0);
        }),
    );
}

#[test]
fn log_configuration() {
    let log = |driver: &str, opts: serde_json::Value| {
        serde_json::from_value::<LogConfiguration>(json!({"logDriver": driver, "options": opts}))
            .ok()
    };
    invalid(
        ec2_basic(),
        |i| web(i).log_configuration = log("logentries", json!({})),
        &["logDriver of container 'web'", "'logentries'"],
    );
    client(
        ec2_basic(),
        |i| web(i).log_configuration = log("awslogs", json!({"awslogs-group": "g"})),
        &["Log driver awslogs requires options: awslogs-region"],
    );
    client(
        ec2_basic(),
        |i| {
            web(i).log_configuration = log(
                "awslogs",
                json!({"awslogs-group": "g", "awslogs-region": "r",
        "awslogs-datetime-format": "%Y", "awslogs-multiline-pattern": "^x"}),
            )
        },
        &["cannot both be set"],
    );
    passes(ec2_basic(), |i| {
        web(i).log_configuration = log(
            "awslogs",
            json!({"awslogs-group": "g", "awslogs-region": "r"}),
        )
    });
    client(
        ec2_basic(),
        |i| web(i).log_configuration = log("awsfirelens", json!({})),
        &["needs a container with a firelensConfiguration"],
    );
    passes(ec2_basic(), |i| {
        web(i).log_configuration = log("awsfirelens", json!({"Name": "cloudwatch"}));
        i.container_definitions.push(container(
            json!({"name": "router", "image": "fluent-bit", "memory": 64,
            "firelensConfiguration": {"type": "fluentbit"}}),
        ));
    });
}

#[test]
fn volumes_and_mounts() {
    let vol = |v: serde_json::Value| vec![serde_json::from_value::<Volume>(v).expect("volume")];
    let mount = |i: &mut RegisterTaskDefinitionInput, path: &str| {
        web(i).mount_points = vec![MountPoint {
            source_volume: Some("data".into()),
            container_path: Some(path.into()),
            read_only: None,
        }];
    };
    passes(ec2_basic(), |i| {
        i.volumes = vol(json!({"name": "data", "host": {"sourcePath": "/srv"}}));
        mount(i, "/data");
    });
    client(
        ec2_basic(),
        |i| mount(i, "/data"),
        &["mountPoints[0].sourceVolume 'data' is not a volume of the task definition"],
    );
    client(
        ec2_basic(),
        |i| {
            i.volumes = vol(json!({"name": "data"}));
            mount(i, "data");
        },
        &["must be an absolute path"],
    );
    client(
        ec2_basic(),
        |i| {
            i.volumes = vol(json!({"name": "data"}));
            mount(i, "");
        },
        &["mountPoints[0].containerPath is required"],
    );
    client(
        ec2_basic(),
        |i| i.volumes = vol(json!({"name": "my data"})),
        &["Invalid volume name 'my data'"],
    );
    client(
        ec2_basic(),
        |i| i.volumes = vol(json!({"host": {}})),
        &["volumes[0] needs a name"],
    );
    client(
        ec2_basic(),
        |i| {
            i.volumes = vol(json!({"name": "d"}));
            i.volumes.push(i.volumes[0].clone());
        },
        &["Duplicate volume name 'd'"],
    );
    client(
        ec2_basic(),
        |i| {
            i.volumes = vol(
                json!({"name": "d", "host": {}, "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}),
            )
        },
        &["may specify only one of"],
    );
    client(
        ec2_basic(),
        |i| i.volumes = vol(json!({"name": "d", "efsVolumeConfiguration": {}})),
        &["fileSystemId is required"],
    );
    client(
        ec2_basic(),
        |i| {
            i.volumes = vol(
                json!({"name": "d", "efsVolumeConfiguration": {"fileSystemId": "fs-1",
        "authorizationConfig": {"iam": "ENABLED"}}}),
            )
        },
        &["requires transitEncryption ENABLED"],
    );
    invalid(
        ec2_basic(),
        |i| i.volumes = vol(json!({"name": "d", "dockerVolumeConfiguration": {"scope": "global"}})),
        &["scope"],
    );
    client(
        ec2_basic(),
        |i| {
            i.volumes = vol(
                json!({"name": "d", "dockerVolumeConfiguration": {"scope": "task", "autoprovision": true}}),
            )
        },
        &["autoprovision can only be set when scope is shared"],
    );
}

#[test]
fn volumes_from() {
    let from = |src: &str| {
        vec![VolumeFrom {
            source_container: Some(src.into()),
            read_only: None,
        }]
    };
    client(
        ec2_basic(),
        |i| web(i).volumes_from = from("data"),
        &["volumesFrom[0].sourceContainer 'data' must name another container"],
    );
    client(
        ec2_basic(),
        |i| web(i).volumes_from = from("web"),
        &["must name another container"],
    );
}

#[test]
fn environment_and_secrets() {
    client(
        ec2_basic(),
        |i| {
            web(i).environment = vec![KeyValuePair {
                name: Some(String::new()),
                value: Some("x".into()),
            }]
        },
        &["Container 'web': environment[0] has no name."],
    );
    invalid(
        ec2_basic(),
        |i| {
            web(i).environment_files = vec![EnvironmentFile {
                value: Some("arn:aws:s3:::b/x.env".into()),
                kind: Some("http".into()),
            }]
        },
        &["environmentFiles[0].type"],
    );
    client(
        ec2_basic(),
        |i| {
            web(i).secrets = vec![Secret {
                name: "A".into(),
                value_from: String::new(),
            }]
        },
        &["secrets[0] needs both name and valueFrom"],
    );
}

#[test]
fn ulimits() {
    let ul = |name: &str, soft: i32, hard: i32| Ulimit {
        name: name.into(),
        soft_limit: soft,
        hard_limit: hard,
    };
    invalid(
        ec2_basic(),
        |i| web(i).ulimits = vec![ul("files", 1, 2)],
        &["ulimits[0].name", "nofile"],
    );
    client(
        ec2_basic(),
        |i| web(i).ulimits = vec![ul("nofile", 2048, 1024)],
        &["ulimit 'nofile' softLimit 2048 is greater than hardLimit 1024"],
    );
    client(
        ec2_basic(),
        |i| web(i).ulimits = vec![ul("nofile", 1, 2), ul("nofile", 1, 2)],
        &["set twice"],
    );
    client(
        ec2_basic(),
        |i| web(i).ulimits = vec![ul("memlock", -1, 5)],
        &["greater than hardLimit"],
    );
    passes(ec2_basic(), |i| {
        web(i).ulimits = vec![ul("memlock", -1, -1), ul("nofile", 1024, -1)]
    });
}

#[test]
fn linux_parameters_and_system_controls() {
    client(
        ec2_basic(),
        |i| {
            web(i).linux_parameters = Some(LinuxParameters {
                swappiness: Some(101),
                ..LinuxParameters::default()
            })
        },
        &["linuxParameters.swappiness must be between 0 and 100"],
    );
    client(
        ec2_basic(),
        |i| {
            web(i).linux_parameters = Some(LinuxParameters {
                tmpfs: vec![Tmpfs {
                    container_path: "tmp".into(),
                    size: 64,
                    mount_options: vec![],
                }],
                ..LinuxParameters::default()
            })
        },
        &["tmpfs[0].containerPath must be an absolute path"],
    );
    invalid(
        ec2_basic(),
        |i| {
            web(i).linux_parameters = Some(LinuxParameters {
                capabilities: Some(KernelCapabilities {
                    add: vec!["GOD_MODE".into()],
                    drop: vec![],
                }),
                ..LinuxParameters::default()
            })
        },
        &["capability", "GOD_MODE"],
    );
    client(
        ec2_basic(),
        |i| {
            i.network_mode = Some("host".into());
            web(i).port_mappings.clear();
            web(i).system_controls = vec![SystemControl {
                namespace: Some("net.core.somaxconn".into()),
                value: Some("1024".into()),
            }];
        },
        &["network namespace systemControls are not supported when networkMode=host"],
    );
}

#[test]
fn resource_requirements_and_restart_policy() {
    let rr = |kind: &str, value: &str| {
        vec![ResourceRequirement {
            kind: kind.into(),
            value: Some(value.into()),
            sharing_strategy: None,
        }]
    };
    client(
        ec2_basic(),
        |i| web(i).resource_requirements = rr("GPU", "0"),
        &["positive number of GPUs or ALL"],
    );
    invalid(
        ec2_basic(),
        |i| web(i).resource_requirements = rr("TPU", "1"),
        &["resourceRequirements[0].type"],
    );
    client(
        ec2_basic(),
        |i| web(i).resource_requirements = rr("InferenceAccelerator", "eia"),
        &["inference accelerator 'eia'"],
    );
    passes(ec2_basic(), |i| {
        web(i).resource_requirements = rr("GPU", "2")
    });
    client(
        ec2_basic(),
        |i| {
            web(i).restart_policy = Some(ContainerRestartPolicy {
                enabled: Some(true),
                restart_attempt_period: Some(30),
                ..Default::default()
            })
        },
        &["restartPolicy.restartAttemptPeriod must be between 60 and 1800"],
    );
    client(
        ec2_basic(),
        |i| web(i).restart_policy = Some(ContainerRestartPolicy::default()),
        &["restartPolicy.enabled is required"],
    );
}
