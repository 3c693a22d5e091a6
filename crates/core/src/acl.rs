//! ACL storage and validation.
//!
//! Nodes refer to ACL lists by a small index into an [`AclCache`] (ZooKeeper:
//! `ReferenceCountedACLCache`), because a handful of distinct lists serves millions of nodes.
//! The permission model itself (which identities may do what) lives in [`crate::auth`].

use std::collections::HashMap;
use std::sync::Arc;

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{Acl, Id};

/// Index of an ACL list in the cache.
pub type AclRef = u32;

/// Reference-counted, de-duplicated ACL lists.
#[derive(Debug, Default)]
pub struct AclCache {
    lists: Vec<Option<(Arc<[Acl]>, u64)>>,
    index: HashMap<Arc<[Acl]>, AclRef>,
    free: Vec<AclRef>,
}

impl AclCache {
    /// Returns the reference for `acl`, adding one use.
    pub fn acquire(&mut self, acl: &[Acl]) -> AclRef {
        if let Some(&r) = self.index.get(acl) {
            if let Some((_, count)) = &mut self.lists[r as usize] {
                *count += 1;
            }
            return r;
        }
        let shared: Arc<[Acl]> = Arc::from(acl);
        let entry = Some((Arc::clone(&shared), 1));
        let r = match self.free.pop() {
            Some(r) => {
                self.lists[r as usize] = entry;
                r
            }
            None => {
                self.lists.push(entry);
                (self.lists.len() - 1) as AclRef
            }
        };
        self.index.insert(shared, r);
        r
    }

    /// Drops one use of `r`.
    pub fn release(&mut self, r: AclRef) {
        let slot = &mut self.lists[r as usize];
        if let Some((acl, count)) = slot {
            *count -= 1;
            if *count == 0 {
                self.index.remove(acl);
                *slot = None;
                self.free.push(r);
            }
        }
    }

    /// The list behind `r`.
    pub fn get(&self, r: AclRef) -> &[Acl] {
        match self.lists.get(r as usize) {
            Some(Some((acl, _))) => acl,
            _ => &[],
        }
    }

    /// The list behind `r`, shared (a copy costs no allocation).
    pub fn get_shared(&self, r: AclRef) -> Arc<[Acl]> {
        match self.lists.get(r as usize) {
            Some(Some((acl, _))) => Arc::clone(acl),
            _ => Arc::from([]),
        }
    }

    /// Every list in use with its reference, in reference order.
    pub fn lists(&self) -> Vec<(AclRef, &[Acl])> {
        self.lists
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_ref().map(|(acl, _)| (i as AclRef, &acl[..])))
            .collect()
    }

    /// Number of distinct lists in use.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no list is in use.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// Validates and expands an ACL list given on create or setACL (ZooKeeper:
/// `PrepRequestProcessor.fixupACL`). `authenticated` are the requester's identities whose
/// scheme counts as authenticated (digest, sasl, x509), which the `auth` scheme expands to.
pub fn fixup_acl(acl: &[Acl], authenticated: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    let mut push = |a: Acl| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for entry in acl {
        match entry.id.scheme.as_str() {
            "world" if entry.id.id == "anyone" => push(entry.clone()),
            "auth" => {
                if authenticated.is_empty() {
                    return Err(ErrorCode::InvalidAcl);
                }
                for id in authenticated {
                    push(Acl {
                        perms: entry.perms,
                        id: id.clone(),
                    });
                }
            }
            "digest" if entry.id.id.split(':').count() == 2 => push(entry.clone()),
            "ip" if valid_ip_acl(&entry.id.id) => push(entry.clone()),
            "sasl" | "x509" if !entry.id.id.is_empty() => push(entry.clone()),
            _ => return Err(ErrorCode::InvalidAcl),
        }
    }
    if out.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    Ok(out)
}

/// `a.b.c.d` or `a.b.c.d/bits` with `bits <= 32`, or an IPv6 literal with optional `/bits <= 128`.
fn valid_ip_acl(id: &str) -> bool {
    let (addr, bits) = match id.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (id, None),
    };
    let max = if addr.parse::<std::net::Ipv4Addr>().is_ok() {
        32
    } else if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        128
    } else {
        return false;
    };
    match bits {
        None => true,
        Some(b) => b.parse::<u32>().is_ok_and(|b| b <= max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id {
                scheme: scheme.into(),
                id: id.into(),
            },
        }
    }

    #[test]
    fn fixup_rules() {
        assert_eq!(fixup_acl(&[], &[]), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup_acl(&[acl(31, "world", "someone")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(31, "auth", "")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(31, "ip", "10.0.0.0/33")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(31, "nosuch", "x")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixup_acl(&[acl(31, "ip", "127.0.0.0/8")], &[]).is_ok());
        // Duplicates are dropped, order kept.
        let l = vec![
            acl(1, "world", "anyone"),
            acl(31, "digest", "u:h"),
            acl(1, "world", "anyone"),
        ];
        assert_eq!(fixup_acl(&l, &[]).unwrap(), l[..2].to_vec());
        // auth expands to every authenticated id.
        let me = Id {
            scheme: "digest".into(),
            id: "u:h".into(),
        };
        assert_eq!(
            fixup_acl(&[acl(31, "auth", "")], std::slice::from_ref(&me)).unwrap(),
            vec![Acl { perms: 31, id: me }]
        );
    }

    #[test]
    fn cache_shares_and_frees() {
        let mut c = AclCache::default();
        let a = c.acquire(&Acl::open_unsafe());
        let b = c.acquire(&Acl::open_unsafe());
        assert_eq!(a, b);
        let r = c.acquire(&Acl::read_unsafe());
        assert_ne!(a, r);
        c.release(r);
        assert_eq!(c.len(), 1);
        c.release(a);
        c.release(b);
        assert!(c.is_empty());
    }
}
