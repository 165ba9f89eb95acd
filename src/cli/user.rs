//! The OS user name, which becomes `recorded_by` when neither `--actor` nor
//! `ACCORD_ACTOR` is given (SPEC §4).
//!
//! `$USER` and `$LOGNAME` come first, as a login shell sets them. A process
//! started without them (cron, `env -i`, a container, a service) still runs
//! as a user: its real uid, whose name the passwd database gives. A uid with
//! no passwd entry is recorded as `uid N`, which still says who it was.

/// `$USER`, else `$LOGNAME`, else the passwd name of the real uid, else `uid N`.
pub fn os_user() -> String {
    let var = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    var("USER").or_else(|| var("LOGNAME")).unwrap_or_else(account)
}

#[cfg(unix)]
fn account() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    passwd_name(uid).unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(not(unix))]
fn account() -> String {
    std::env::var("USERNAME").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "unknown user".to_owned())
}

/// The name of `uid` in the passwd database (`/etc/passwd`, or whatever NSS
/// is configured to ask), through the reentrant `getpwuid_r`; `None` if it
/// has no entry, or the lookup fails.
#[cfg(unix)]
fn passwd_name(uid: libc::uid_t) -> Option<String> {
    // The strings of the entry are written into a buffer we provide. Its size
    // is the system's suggestion (often 1024; -1 when it has none), doubled
    // each time getpwuid_r says ERANGE (too small), up to a bound so that a
    // misbehaving NSS module cannot make us allocate without end.
    const MAX: usize = 1 << 20;
    // SAFETY: sysconf only reads a configuration value.
    let suggested = unsafe { libc::sysconf(libc::_SC_GETPW_R_SIZE_MAX) };
    let mut size = usize::try_from(suggested).ok().filter(|&n| n > 0).unwrap_or(1024).min(MAX);
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; size];
        let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `entry` is writable storage for one passwd, `buf` is
        // `buf.len()` writable bytes, and `found` a writable pointer; all
        // three outlive the call. getpwuid_r writes only into them, and sets
        // `found` to `entry`'s address on success, to null otherwise.
        let rc = unsafe { libc::getpwuid_r(uid, entry.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut found) };
        match rc {
            libc::ERANGE if size < MAX => {
                size = (size * 2).min(MAX);
                continue;
            }
            libc::EINTR => continue,
            0 if !found.is_null() => {}
            // Not found (0 and null), or an error: no name.
            _ => return None,
        }
        // SAFETY: getpwuid_r succeeded and `found` is non-null, so it points
        // to `entry`, which it initialized.
        let name = unsafe { (*found).pw_name };
        if name.is_null() {
            return None;
        }
        // SAFETY: `pw_name` is non-null and points to a NUL-terminated
        // string inside `buf`, which is alive (and unmodified) until the end
        // of this scope; the name is copied out before `buf` is dropped.
        let name = unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned();
        return (!name.is_empty()).then_some(name);
    }
}
