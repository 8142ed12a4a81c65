#include "policy/take_decision.hpp"

namespace aep {

take_decision decide_take(const found_entry& f, const id_policy& ids) {
    take_decision d;
    using kind = take_decision::kind;
    // A previous run may have sent it before crashing (resumed from processing/), or before a
    // power loss that took its stamp and its claim with it (born before the doubt moment).
    const bool in_doubt =
        ids.doubt_before && (!f.identity || f.identity->born_ns < *ids.doubt_before);
    // The id derived from the file (where the file system records birth times).
    std::optional<std::string> derived;
    if (ids.incoming && f.identity) derived = derive_external_id(*ids.incoming, *f.identity);
    // After a lost machine the stamp may be gone too: the id it would hold is derived again.
    const std::optional<std::string>& known_id = f.stamp ? f.stamp : (in_doubt ? derived : f.stamp);
    if (known_id && is_record_of(f.content, *known_id)) {
        // Its record was written in place and a crash (or a power loss that undid the move)
        // came before it reached done/: only the move is left.
        d.k = kind::filed;
        d.entry.external_id = known_id;
        return d;
    }
    auto parsed = parse_entry(f.content);
    if (!parsed.value && f.stamp) {
        // Only a read entry is stamped, and only a created batch's record replaces the content:
        // a stamped file that is neither was torn by a crash while its record was written.
        d.entry.external_id = f.stamp;
        d.first = first_request::look_up_only;
        d.source = id_source::stamp;
        d.stamped = true;
        return d;
    }
    if (!parsed.value && known_id) {
        // Not an entry, no stamp, and in the spool when the machine went down: perhaps a record
        // torn by the power loss, with its stamp lost. Catalog is asked under the id it would
        // have had; if it lists no batch, the entry fails for what it is.
        d.entry.external_id = known_id;
        d.first = first_request::look_up_only;
        d.source = id_source::derived;
        d.unparsed = parsed.error;
        return d;
    }
    if (!parsed.value) {
        d.k = kind::not_an_entry;
        d.error = parsed.error;
        d.entry.dataset_id = std::move(parsed.dataset_id);  // for its record, when known
        return d;
    }
    d.entry = std::move(*parsed.value);
    d.first = f.resumed || in_doubt ? first_request::look_up_first : first_request::create;
    if (d.entry.external_id) {
        d.source = id_source::own;
    } else if (f.stamp) {
        // Stamped by an earlier claim, which may have sent it (a power loss can even have put
        // the file back in incoming/): the same id again, and Catalog asked before any send.
        d.entry.external_id = f.stamp;
        d.source = id_source::stamp;
        d.first = first_request::look_up_first;
    } else if (derived) {
        // A resend after a crash must reuse the externalId. An entry's own id is in its
        // content; otherwise it is derived from the file's identity, which every start finds
        // again, or, where the file system records no birth times, made at random (by the
        // caller).
        d.entry.external_id = derived;
        d.source = id_source::derived;
    } else {
        d.source = id_source::random;
    }
    if (f.stamp) {
        d.stamped = *f.stamp == *d.entry.external_id;
        d.derivable = derived && *derived == *d.entry.external_id;
    } else {
        // An entry that names its own id syncs its first stamp, even where the derived id
        // happens to be the same (an entry rewritten with it by an earlier, unmarked run).
        d.derivable = d.source == id_source::derived;
        // The id is also stamped on the file itself, so that a crash while the record replaces
        // the content is recognised.
        d.needs_stamp = true;
    }
    return d;
}

id_durability decide_durability(const take_decision& d, bool stamped) {
    if (d.first == first_request::look_up_only) return id_durability::none;
    // A random id is made durable before the first send: its stamp synced, or, where the file
    // system takes no extended attributes (or the stamp failed), written into the entry.
    if (d.source == id_source::random) {
        return stamped ? id_durability::sync_stamp : id_durability::write_entry;
    }
    // A derived id's stamp needs no sync once this run's marker is on the disk: after a lost
    // machine the id is derived again, and a torn file without its stamp is looked up under it.
    if (d.derivable) return id_durability::after_marker;
    // Any other stamp (an earlier run's may still be only in the page cache) reaches the disk
    // before this run sends under it: a torn file's content could not tell its id.
    return stamped ? id_durability::sync_stamp : id_durability::none;
}

id_durability settle_after_marker(bool run_marked, bool stamped) {
    // Without a marker, a derived id is made durable like a random one.
    if (run_marked) return id_durability::none;
    return stamped ? id_durability::sync_stamp : id_durability::write_entry;
}

}  // namespace aep
