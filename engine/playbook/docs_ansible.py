"""What the actions added for Ansible users take: their part of docs/playbook.md, kept
beside docs.py (which merges it) so that each table stays one screen.
"""

from __future__ import annotations

Entry = tuple[str, str, str]   # (default, meaning, example)

_PACKAGE: dict[str, Entry] = {
    "name": ("", "A package, a list, or a comma-separated string.", "name: [curl, jq]"),
    "state": ("present", "`present`, `absent` or `latest`.", "state: latest"),
    "update_cache": ("false", "Refresh the package lists first; alone (no `name`), the "
                     "refresh is the task, changed when it ran.", "update_cache: true"),
}
_APT: dict[str, Entry] = {
    **_PACKAGE,
    "pkg": ("", "Ansible's other spelling of `name`.", "pkg: curl"),
    "cache_valid_time": ("0: always refresh", "Skip the refresh while the last one is "
                         "younger than this many seconds.", "cache_valid_time: 3600"),
}
_FILE_ATTRIBUTES: dict[str, Entry] = {
    "mode": ("the file's (new: the login's umask)", "Octal or symbolic.", 'mode: "0644"'),
    "owner": ("the file's (new: the login)", "User name or uid.", "owner: root"),
    "group": ("the file's (new: the login's group)", "Group name or gid.", "group: root"),
    "validate": ("none", "A command with `%s`, run on the new content before it replaces "
                 "the file; failing, it leaves the file and fails the step.",
                 "validate: sshd -t -f %s"),
    "backup": ("false", "Keep the old file as `DEST.YYYY-MM-DD@HH:MM:SS~` (registered as "
               "`backup_file`).", "backup: true"),
}
_WHERE: dict[str, Entry] = {
    "insertafter": ("EOF", "Where a new line goes: `EOF`, `BOF` or a regex (after its last "
                    "match; the end when nothing matches).", "insertafter: \"^#Port\""),
    "insertbefore": ("none", "`BOF` or a regex (before its last match).",
                     "insertbefore: \"^Match\""),
    "create": ("false", "Create a missing file (else the step fails).", "create: true"),
}
_SERVICE: dict[str, Entry] = {
    "name": ("", "The service (systemd unit, or /etc/init.d script).", "name: nginx"),
    "state": ("unchanged", "`started`, `stopped`, `restarted` or `reloaded` (these two "
              "always act).", "state: restarted"),
    "enabled": ("unchanged", "Started at boot (systemctl enable, or update-rc.d).",
                "enabled: true"),
}

ACTIONS: dict[str, tuple[str, dict[str, Entry]]] = {
    "apt": ("`package`, as Ansible's apt module is written.", _APT),
    "dnf": ("`package`, as Ansible's dnf module is written.", _PACKAGE),
    "yum": ("`package`, as Ansible's yum module is written.", _PACKAGE),
    "debug": ("Show a message or a value on the console (and in `--json`), masked like "
              "every message; touches no host.", {
        "msg": ("Hello world!", "The message.", "msg: \"port is {{ port }}\""),
        "var": ("", "An expression (no `{{ }}`) whose value is shown.", "var: result.stdout"),
        "verbosity": ("0", "Above 0 the step is skipped (play has no -v).", "verbosity: 1"),
    }),
    "fail": ("Fail the step with a message.", {
        "msg": ("Failed as requested from task", "The message.", "msg: \"unsupported OS\""),
    }),
    "assert": ("Fail unless every condition holds (the language of `when:`).", {
        "that": ("", "A condition or a list of them.", "that: [\"port | int > 1024\"]"),
        "fail_msg": ("assertion failed: CONDITION", "The message of a failure.",
                     "fail_msg: \"port {{ port }} is privileged\""),
        "msg": ("", "Ansible's other spelling of `fail_msg`.", "msg: \"bad port\""),
        "success_msg": ("All assertions passed", "The message when all hold.",
                        "success_msg: ok"),
        "quiet": ("false", "Do not show the success message.", "quiet: true"),
    }),
    "set_fact": ("Set variables for this host's later steps (above play vars, below `-e`). "
                 "Any argument name is a variable name.", {
        "cacheable": ("false", "Accepted; play keeps no fact cache.", "cacheable: true"),
    }),
    "meta": ("`flush_handlers`: run the handlers notified so far on the host now; `noop`.", {
        "free_form": ("", "`flush_handlers` or `noop`.", "free_form: flush_handlers"),
    }),
    "lineinfile": ("One line present (added, or replacing the last line `regexp` or "
                   "`search_string` matches) or absent in a text file.", {
        "path": ("", "The remote file.", "path: /etc/ssh/sshd_config"),
        "line": ("", "The line the file must hold (with `state: present`).",
                 "line: Port 2222"),
        "regexp": ("none", "Lines it matches are replaced (the last one) or removed.",
                   "regexp: \"^#?Port \""),
        "search_string": ("none", "Like `regexp`, a literal text the line holds somewhere "
                          "(no `backrefs`).", "search_string: \"127.0.0.1\""),
        "firstmatch": ("false", "The first line `regexp`, `search_string`, `insertafter` or "
                       "`insertbefore` matches, instead of the last.", "firstmatch: true"),
        "state": ("present", "`present` or `absent`.", "state: absent"),
        "backrefs": ("false", "`line` may use the regexp's groups; no match changes nothing.",
                     "backrefs: true"),
        **_WHERE, **_FILE_ATTRIBUTES,
    }),
    "blockinfile": ("A block of lines between two marker lines, present or absent.", {
        "path": ("", "The remote file.", "path: /etc/hosts"),
        "block": ("", "The lines; empty removes the block.", "block: \"10.0.0.1 db\""),
        "marker": ("# {mark} ANSIBLE MANAGED BLOCK", "The marker lines, `{mark}` standing for "
                   "BEGIN / END.", "marker: \"# {mark} play hosts\""),
        "marker_begin": ("BEGIN", "What `{mark}` is in the first marker.",
                         "marker_begin: start"),
        "marker_end": ("END", "What `{mark}` is in the last marker.", "marker_end: stop"),
        "state": ("present", "`present` or `absent`.", "state: absent"),
        **_WHERE, **_FILE_ATTRIBUTES,
    }),
    "stat": ("Register what is at a path as `result.stat` (exists, isreg, isdir, islnk, mode, "
             "size, uid, gid, pw_name, gr_name, mtime, lnk_target, checksum); runs under "
             "`--check` too.", {
        "path": ("", "The remote path.", "path: /etc/app.conf"),
        "follow": ("false", "Describe a link's target instead of the link.", "follow: true"),
        "get_checksum": ("true", "Checksum a regular file.", "get_checksum: false"),
        "checksum_algorithm": ("sha1", "`sha1`, `sha256`, `md5` or `sha512`.",
                               "checksum_algorithm: sha256"),
    }),
    "authorized_key": ("SSH public keys present or absent in a user's authorized_keys "
                       "(~/.ssh 0700, the file 0600, both the user's).", {
        "user": ("", "The account.", "user: deploy"),
        "key": ("", "One or more public key lines.", "key: \"{{ lookup_key }}\""),
        "state": ("present", "`present` or `absent`.", "state: absent"),
        "exclusive": ("false", "Remove every other key.", "exclusive: true"),
        "manage_dir": ("true", "Create the keys' folder and keep it 0700.",
                       "manage_dir: false"),
        "path": ("~/.ssh/authorized_keys", "Another keys file (absolute), e.g. what sshd's "
                 "AuthorizedKeysFile names; still the user's, 0600.",
                 "path: /etc/ssh/keys/deploy"),
        "key_options": ("none", "Options for every key, in place of those its line has.",
                        "key_options: 'from=\"10.0.0.0/8\",no-pty'"),
    }),
    "service": ("A service started, stopped, restarted or reloaded, enabled or not: systemd "
                "where it runs, else /etc/init.d scripts and update-rc.d.", _SERVICE),
    "systemd": ("`service`, as Ansible's systemd module is written.", {
        **_SERVICE,
        "daemon_reload": ("false", "`systemctl daemon-reload` first.", "daemon_reload: true"),
    }),
    "systemd_service": ("`systemd` under its newer Ansible name.", {
        **_SERVICE,
        "daemon_reload": ("false", "`systemctl daemon-reload` first.", "daemon_reload: true"),
    }),
}
# arguments the actions play already had gained for Ansible users
MORE_ARGUMENTS: dict[str, dict[str, Entry]] = {
    "copy": {key: _FILE_ATTRIBUTES[key] for key in ("validate", "backup")},
    "template": {key: _FILE_ATTRIBUTES[key] for key in ("validate", "backup")},
    "package": {"cache_valid_time": _APT["cache_valid_time"]},
}
