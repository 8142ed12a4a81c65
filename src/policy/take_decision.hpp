// What a taken entry is, and what its externalId needs before the first request: the
// crash-recovery table of the README's *Delivery* section for an entry found in the spool.
// Owns: telling a fresh entry from one an earlier run may have sent, a record left in place, a
// torn record, or a file that is not an entry; where the externalId comes from; whether it must
// reach the disk first. Does not own: the file work (pipeline/take_stage does it and asks here).
// Pure: what the file held and what the queue knows come in as values.
#pragma once

#include "aep/entry.hpp"
#include "aep/external_id.hpp"
#include "aep/records.hpp"
#include "io/spool.hpp"
#include "policy/create_attempts.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace aep {

// How a queue's entries get their externalIds.
struct id_policy {
    std::optional<file_identity> incoming;     // derive ids from file identities (birth times)
    std::optional<std::int64_t> doubt_before;  // entries born before this: Catalog first
};

// What the take read from a claimed file.
struct found_entry {
    bool resumed = false;                   // found in processing/ at start (or a rescan)
    std::string_view content;               // the file's bytes
    std::optional<std::string> stamp;       // the externalId an earlier claim stamped on it
    std::optional<file_identity> identity;  // when the file system records birth times
};

// Where the entry's externalId came from.
enum class id_source {
    own,      // the entry names it
    stamp,    // an earlier claim stamped it on the file (and may have sent it)
    derived,  // derived from the file's identity: found again at every start
    random,   // made now (the file system records no birth times): must be stamped or written
};

struct take_decision {
    enum class kind {
        filed,         // the file already holds its complete record: move it into done/
        not_an_entry,  // goes to failed/ with `error`
        deliver,       // make its first request (`first`)
    } k = kind::deliver;
    std::string error;  // not_an_entry: why
    batch_entry entry;  // filed, deliver: external_id set unless `source` is random
    first_request first = first_request::create;
    id_source source = id_source::own;
    bool stamped = false;      // the file carries the entry's externalId already
    bool needs_stamp = false;  // the file carries no stamp yet: stamp it now
    bool derivable = false;    // the externalId is also the one derived from the file
    std::string unparsed;      // look_up_only without a stamp: why the content is not an entry
};

// Decides what a claimed, readable file is (the externalId derived with aep/external_id.hpp,
// a record recognised with aep/records.hpp).
take_decision decide_take(const found_entry& f, const id_policy& ids);

// What the externalId needs before the first request, once the take stamped it (or could not).
enum class id_durability {
    none,          // durable already (or never needed: a torn entry is only looked up)
    sync_stamp,    // the stamp reaches the disk first (one shared file-system sync)
    write_entry,   // no stamp: the id is written into the entry itself (rewrite and dir sync)
    after_marker,  // a derived id: none once this run's marker is durable, else as unmarked
};
// `stamped`: the file carries the id (take_decision::stamped, or the stamp the take just made).
id_durability decide_durability(const take_decision& d, bool stamped);
// For after_marker, once the marker is written or has failed.
id_durability settle_after_marker(bool run_marked, bool stamped);

}  // namespace aep
