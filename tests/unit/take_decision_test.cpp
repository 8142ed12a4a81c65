// The take's crash-recovery table, row by row (README, *Delivery*, for an entry found in the
// spool): what a claimed file is, where its externalId comes from, what must be durable first.
#include "policy/take_decision.hpp"

#include <gtest/gtest.h>

using namespace aep;
using kind = take_decision::kind;

namespace {

const file_identity incoming_dir{10, 1'000};
const file_identity file_born_at_5000{20, 5'000};
const std::string derived = derive_external_id(incoming_dir, file_born_at_5000);

found_entry found(std::string_view content, std::optional<std::string> stamp = std::nullopt,
                  bool resumed = false, std::optional<file_identity> identity = file_born_at_5000) {
    return found_entry{resumed, content, std::move(stamp), identity};
}

id_policy birth_times(std::optional<std::int64_t> doubt_before = std::nullopt) {
    return id_policy{incoming_dir, doubt_before};
}

std::string record_of(const std::string& xid) {
    return R"({"queue":"q","entry":"e","datasetId":"ds1","externalId":")" + xid +
           R"(","batchId":"b1","stagePath":null,"status":"loading","attempts":1})"
           "\n";
}

}  // namespace

TEST(TakeDecision, AFreshEntryGetsTheDerivedIdStampedWithoutASyncOnceTheRunIsMarked) {
    const auto d = decide_take(found("ds1"), birth_times());
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.first, first_request::create);
    EXPECT_EQ(d.source, id_source::derived);
    EXPECT_EQ(d.entry.external_id, derived);
    EXPECT_EQ(d.entry.dataset_id, "ds1");
    EXPECT_TRUE(d.needs_stamp);
    EXPECT_FALSE(d.stamped);
    EXPECT_EQ(decide_durability(d, true), id_durability::after_marker);
    EXPECT_EQ(decide_durability(d, false), id_durability::after_marker);
    // The marker is durable: derived again after any crash. Not marked: like a random id.
    EXPECT_EQ(settle_after_marker(true, true), id_durability::none);
    EXPECT_EQ(settle_after_marker(true, false), id_durability::none);
    EXPECT_EQ(settle_after_marker(false, true), id_durability::sync_stamp);
    EXPECT_EQ(settle_after_marker(false, false), id_durability::write_entry);
}

TEST(TakeDecision, WithoutBirthTimesTheIdIsRandomAndDurableBeforeTheFirstSend) {
    const id_policy no_birth_times{std::nullopt, std::nullopt};
    const auto d = decide_take(found("ds1", std::nullopt, false, std::nullopt), no_birth_times);
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.source, id_source::random);
    EXPECT_FALSE(d.entry.external_id) << "the caller makes it";
    EXPECT_TRUE(d.needs_stamp);
    EXPECT_EQ(decide_durability(d, true), id_durability::sync_stamp);
    // No user extended attributes (or the stamp failed): the id goes into the entry itself.
    EXPECT_EQ(decide_durability(d, false), id_durability::write_entry);
}

TEST(TakeDecision, AnEntrysOwnIdIsKeptAndItsStampSynced) {
    const auto d = decide_take(found(R"({"datasetId":"ds1","externalId":"own-1"})"), birth_times());
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.source, id_source::own);
    EXPECT_EQ(d.entry.external_id, "own-1");
    EXPECT_TRUE(d.needs_stamp);
    EXPECT_EQ(decide_durability(d, true), id_durability::sync_stamp);
    EXPECT_EQ(decide_durability(d, false), id_durability::none) << "its content holds the id";
}

TEST(TakeDecision, AnEntryResumedFromProcessingIsLookedUpFirst) {
    const auto d = decide_take(found("ds1", derived, true), birth_times());
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.first, first_request::look_up_first);
    EXPECT_EQ(d.entry.external_id, derived);
    EXPECT_TRUE(d.stamped);
    EXPECT_FALSE(d.needs_stamp);
    EXPECT_EQ(decide_durability(d, d.stamped), id_durability::after_marker);
}

TEST(TakeDecision, AStampFromAnEarlierClaimIsReusedAndLookedUpFirst) {
    // A power loss put a claimed file back in incoming/ with its stamp: same id, Catalog first.
    const auto d = decide_take(found("ds1", "aepb-earlier"), birth_times());
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.first, first_request::look_up_first);
    EXPECT_EQ(d.source, id_source::stamp);
    EXPECT_EQ(d.entry.external_id, "aepb-earlier");
    EXPECT_TRUE(d.stamped);
    // Not the derived id: its stamp may still be only in the page cache, so it is synced.
    EXPECT_EQ(decide_durability(d, d.stamped), id_durability::sync_stamp);
}

TEST(TakeDecision, AStampThatDiffersFromTheEntrysOwnIdIsLeftAlone) {
    const auto d = decide_take(found(R"({"datasetId":"ds1","externalId":"own-1"})", "aepb-other"),
                               birth_times());
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.entry.external_id, "own-1");
    EXPECT_FALSE(d.stamped);
    EXPECT_FALSE(d.needs_stamp);
    EXPECT_EQ(decide_durability(d, d.stamped), id_durability::none);
}

TEST(TakeDecision, AfterALostMachineEntriesBornBeforeTheStartAreInDoubt) {
    const auto before = decide_take(found("ds1"), birth_times(6'000));
    EXPECT_EQ(before.first, first_request::look_up_first);
    EXPECT_EQ(before.entry.external_id, derived) << "looked up under the id it had";
    const auto after = decide_take(found("ds1"), birth_times(4'000));
    EXPECT_EQ(after.first, first_request::create);
    // Without a birth time, an entry cannot show it is younger: in doubt.
    const auto unknown =
        decide_take(found("ds1", std::nullopt, false, std::nullopt), birth_times(4'000));
    EXPECT_EQ(unknown.first, first_request::look_up_first);
    EXPECT_EQ(unknown.source, id_source::random);
}

TEST(TakeDecision, ACompleteRecordInPlaceIsFiled) {
    const std::string rec = record_of("aepb-s");
    const auto d = decide_take(found(rec, "aepb-s", true), birth_times());
    EXPECT_EQ(d.k, kind::filed);
    EXPECT_EQ(d.entry.external_id, "aepb-s");
    // Its stamp lost with the machine: recognised under the derived id.
    const std::string lost = record_of(derived);
    const auto l = decide_take(found(lost), birth_times(6'000));
    EXPECT_EQ(l.k, kind::filed);
    EXPECT_EQ(l.entry.external_id, derived);
    // Another entry's record is not this one's.
    const auto other = decide_take(found(record_of("aepb-z"), "aepb-s"), birth_times());
    EXPECT_NE(other.k, kind::filed);
}

TEST(TakeDecision, ATornRecordWithItsStampIsOnlyLookedUp) {
    const std::string rec = record_of("aepb-s");
    const auto d = decide_take(found(rec.substr(0, rec.size() / 2), "aepb-s", true), birth_times());
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.first, first_request::look_up_only);
    EXPECT_EQ(d.entry.external_id, "aepb-s");
    EXPECT_TRUE(d.stamped) << "its record is written in place again";
    EXPECT_TRUE(d.unparsed.empty());
    EXPECT_EQ(decide_durability(d, d.stamped), id_durability::none);
}

TEST(TakeDecision, AnUnstampedNonEntryFromBeforeALostMachineIsLookedUpAsAPossibleTornRecord) {
    const auto d = decide_take(found("{\"queue\":\"q\",\"ent"), birth_times(6'000));
    ASSERT_EQ(d.k, kind::deliver);
    EXPECT_EQ(d.first, first_request::look_up_only);
    EXPECT_EQ(d.entry.external_id, derived);
    EXPECT_FALSE(d.stamped);
    EXPECT_FALSE(d.unparsed.empty()) << "the reason it fails with if Catalog knows no batch";
}

TEST(TakeDecision, ANonEntryOtherwiseFailsWithItsReason) {
    const auto d = decide_take(found("{not json"), birth_times());
    EXPECT_EQ(d.k, kind::not_an_entry);
    EXPECT_FALSE(d.error.empty());
    // In doubt but without birth times there is no id to look it up under.
    const auto no_id = decide_take(found("{not json", std::nullopt, false, std::nullopt),
                                   id_policy{std::nullopt, 6'000});
    EXPECT_EQ(no_id.k, kind::not_an_entry);
}
