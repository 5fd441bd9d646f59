//! Which operation a `/v2/...` path names. Repository names contain slashes, so a path is
//! read from its end: the last one or two segments say what is asked for (`manifests/REF`,
//! `blobs/DIGEST`, `blobs/uploads/`, `blobs/uploads/ID`, `tags/list`) and everything
//! before them is the name, which the operation then validates. Nothing is decoded:
//! names, tags, digests and upload ids are all plain ASCII, and a `%` in one fails its
//! validation. The paths the registry hands out (`Location`, `Link`) are made here too, so
//! that they are exactly what [`Route::parse`] reads back.

use crate::blobs::UploadId;
use crate::digest::Digest;

/// What a path under `/v2` asks for. The parts are raw: not yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `/v2/`: the API check (and Docker's login probe).
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/NAME/tags/list`.
    Tags { name: &'a str },
    /// `/v2/NAME/manifests/REFERENCE` (a tag or a digest).
    Manifest { name: &'a str, reference: &'a str },
    /// `/v2/NAME/blobs/DIGEST`.
    Blob { name: &'a str, digest: &'a str },
    /// `/v2/NAME/blobs/uploads/` (and without the final slash): starting an upload.
    Uploads { name: &'a str },
    /// `/v2/NAME/blobs/uploads/ID`: an upload in progress.
    Upload { name: &'a str, id: &'a str },
    /// `/v2/NAME/referrers/DIGEST`: the manifests whose subject is DIGEST.
    Referrers { name: &'a str, digest: &'a str },
    /// Anything else under `/v2`.
    Unknown,
}

impl<'a> Route<'a> {
    /// The ECR action a request of `method` on this route is decided as, and the
    /// repository it acts on (none for the catalog); `None` for the API check and
    /// unknown paths.
    pub(crate) fn action(&self, method: &http::Method) -> Option<(&'static str, Option<&'a str>)> {
        use http::Method;
        let write = !matches!(*method, Method::GET | Method::HEAD);
        Some(match *self {
            Route::Base | Route::Unknown => return None,
            Route::Catalog => ("ecr:DescribeRepositories", None),
            Route::Tags { name } => ("ecr:ListImages", Some(name)),
            Route::Manifest { name, .. } => match *method {
                Method::PUT => ("ecr:PutImage", Some(name)),
                Method::DELETE => ("ecr:BatchDeleteImage", Some(name)),
                _ => ("ecr:BatchGetImage", Some(name)),
            },
            Route::Referrers { name, .. } => ("ecr:BatchGetImage", Some(name)),
            Route::Blob { name, .. } if write => ("ecr:BatchDeleteImage", Some(name)),
            Route::Blob { name, .. } if *method == Method::HEAD => {
                ("ecr:BatchCheckLayerAvailability", Some(name))
            }
            Route::Blob { name, .. } => ("ecr:GetDownloadUrlForLayer", Some(name)),
            Route::Uploads { name } => ("ecr:InitiateLayerUpload", Some(name)),
            Route::Upload { name, .. } => match *method {
                Method::PUT => ("ecr:CompleteLayerUpload", Some(name)),
                _ => ("ecr:UploadLayerPart", Some(name)),
            },
        })
    }

    /// The operation a request path names.
    pub(crate) fn parse(path: &'a str) -> Route<'a> {
        let Some(tail) = path.strip_prefix("/v2") else {
            return Route::Unknown;
        };
        let tail = match tail {
            "" | "/" => return Route::Base,
            _ => match tail.strip_prefix('/') {
                Some(t) => t,
                None => return Route::Unknown,
            },
        };
        if tail == "_catalog" {
            return Route::Catalog;
        }
        if let Some(name) = tail.strip_suffix("/tags/list") {
            return Route::Tags { name };
        }
        if let Some(name) = tail
            .strip_suffix("/blobs/uploads/")
            .or_else(|| tail.strip_suffix("/blobs/uploads"))
        {
            return Route::Uploads { name };
        }
        Route::item(tail)
    }

    /// `NAME/KIND/LAST`: a manifest, a blob or an upload.
    fn item(tail: &'a str) -> Route<'a> {
        let Some((head, last)) = tail.rsplit_once('/') else {
            return Route::Unknown;
        };
        let Some((name, kind)) = head.rsplit_once('/') else {
            return Route::Unknown;
        };
        match kind {
            "manifests" => Route::Manifest {
                name,
                reference: last,
            },
            "blobs" => Route::Blob { name, digest: last },
            "referrers" => Route::Referrers { name, digest: last },
            "uploads" => match name.strip_suffix("/blobs") {
                Some(name) => Route::Upload { name, id: last },
                None => Route::Unknown,
            },
            _ => Route::Unknown,
        }
    }
}

/// Where a blob can be pulled.
pub(crate) fn blob_path(name: &str, digest: &Digest) -> String {
    format!("/v2/{name}/blobs/{digest}")
}

/// Where a manifest can be pulled.
pub(crate) fn manifest_path(name: &str, digest: &Digest) -> String {
    format!("/v2/{name}/manifests/{digest}")
}

/// Where an upload continues.
pub(crate) fn upload_path(name: &str, id: &UploadId) -> String {
    format!("/v2/{name}/blobs/uploads/{}", id.as_str())
}

/// A repository's tag list.
pub(crate) fn tags_path(name: &str) -> String {
    format!("/v2/{name}/tags/list")
}

/// The region's repository list.
pub(crate) const CATALOG_PATH: &str = "/v2/_catalog";

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_end_of_a_path_says_what_it_asks_for() {
        let d = Digest::of(b"x").to_string();
        let cases = [
            ("/v2", Route::Base),
            ("/v2/", Route::Base),
            ("/v2/_catalog", Route::Catalog),
            ("/v2/a/b/tags/list", Route::Tags { name: "a/b" }),
            (
                "/v2/team/web/manifests/latest",
                Route::Manifest {
                    name: "team/web",
                    reference: "latest",
                },
            ),
            (
                &format!("/v2/web/blobs/{d}"),
                Route::Blob {
                    name: "web",
                    digest: &d,
                },
            ),
            ("/v2/web/blobs/uploads/", Route::Uploads { name: "web" }),
            ("/v2/web/blobs/uploads", Route::Uploads { name: "web" }),
            (
                "/v2/web/blobs/uploads/abc",
                Route::Upload {
                    name: "web",
                    id: "abc",
                },
            ),
            // A repository may be called "blobs" or "manifests": the end decides.
            (
                "/v2/x/blobs/blobs/y",
                Route::Blob {
                    name: "x/blobs",
                    digest: "y",
                },
            ),
            (
                "/v2/manifests/manifests/latest",
                Route::Manifest {
                    name: "manifests",
                    reference: "latest",
                },
            ),
            (
                "/v2/team/web/referrers/x",
                Route::Referrers {
                    name: "team/web",
                    digest: "x",
                },
            ),
            ("/v2/web/other/x", Route::Unknown),
            ("/v2/web/uploads/x", Route::Unknown),
            ("/v2/web", Route::Unknown),
            ("/v2web", Route::Unknown),
            ("/v3/", Route::Unknown),
        ];
        for (path, route) in cases {
            assert_eq!(Route::parse(path), route, "{path}");
        }
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}"
    }

    fn digest() -> impl Strategy<Value = Digest> {
        any::<Vec<u8>>().prop_map(|b| Digest::of(&b))
    }

    proptest! {
        #[test]
        fn any_path_parses_without_panicking(path in ".{0,300}") {
            let _ = Route::parse(&path);
            let _ = Route::parse(&format!("/v2/{path}"));
        }

        #[test]
        fn the_paths_handed_out_read_back_as_what_they_name(
            name in name(),
            digest in digest(),
            tag in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}",
        ) {
            let d = digest.to_string();
            let blob = blob_path(&name, &digest);
            prop_assert_eq!(Route::parse(&blob), Route::Blob { name: &name, digest: &d });
            let manifest = manifest_path(&name, &digest);
            prop_assert_eq!(Route::parse(&manifest), Route::Manifest { name: &name, reference: &d });
            let by_tag = format!("/v2/{name}/manifests/{tag}");
            prop_assert_eq!(Route::parse(&by_tag), Route::Manifest { name: &name, reference: &tag });
            let id = uuid::Uuid::new_v4().simple().to_string();
            let upload = upload_path(&name, &UploadId::parse(&id).expect("an id"));
            prop_assert_eq!(Route::parse(&upload), Route::Upload { name: &name, id: &id });
            let uploads = format!("/v2/{name}/blobs/uploads/");
            prop_assert_eq!(Route::parse(&uploads), Route::Uploads { name: &name });
            let tags = tags_path(&name);
            prop_assert_eq!(Route::parse(&tags), Route::Tags { name: &name });
            prop_assert_eq!(Route::parse(CATALOG_PATH), Route::Catalog);
        }
    }
}
