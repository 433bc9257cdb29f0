// The key hierarchy (DESIGN §1, seed 001): ParentSet, and the parent rules KeyIssued checks too.
// Keys hang at most one level deep: a parent is a root key, a child has no children.
//
//   CheckParent := INVALID-PARENT-API-KEY (shorter than 8 characters)
//                | UNABLE-TO-SET-PARENT-API-KEY (no such key)
//                | UNABLE-TO-CHANGE-NOT-OWN-API-KEY (another account's)
//                | UNABLE-TO-SET-PARENT-API-KEY (the key itself, deleted, a child, or the key
//                  has children of its own) | OK
//   ParentSet   := parent empty: OK, unlinked | CheckParent's codes | OK: linked
//
// Children counts move with the links. Nothing is written here: key_ops.cc writes the key
// once accepted (the parent's count is derived on load, never stored).

#include "projections/key_ops_internal.h"

namespace keymeter::key_ops {

Status CheckParent(OpContext& c, const KeyState& key, const std::string& parent_text,
                   KeyState** out) {
  if (parent_text.size() < kKeyIdLength) {
    return Refuse(Code::kInvalidParentApiKey,
                  "the parent key is too short; use at least 8 characters");
  }
  std::optional<KeyId> id = KeyId::Parse(parent_text);
  KeyState* found = id ? KeyDirectoryInternal::MutableKey(c.dir, *id) : nullptr;
  if (found == nullptr || !c.Sees(*found)) {
    return Refuse(Code::kUnableToSetParentApiKey, "the parent key does not exist");
  }
  KeyState& parent = *found;
  if (parent.account_id != key.account_id) {
    return Refuse(Code::kUnableToChangeNotOwnApiKey, "the parent key belongs to another account");
  }
  if (parent.id == key.id) {
    return Refuse(Code::kUnableToSetParentApiKey, "a key can't be its own parent");
  }
  if (parent.status == fb::KeyStatus::Deleted) {
    return Refuse(Code::kUnableToSetParentApiKey, "the parent key was deleted");
  }
  if (parent.is_child()) {
    return Refuse(Code::kUnableToSetParentApiKey, "the parent key is itself a child");
  }
  if (key.children > 0) {
    return Refuse(Code::kUnableToSetParentApiKey, "the key has children of its own");
  }
  *out = &parent;
  return Status::Ok();
}

Status SetParent(OpContext& c, KeyState& key, const std::string& parent_text) {
  const std::string before = key.is_child() ? key.parent.str() : "none";
  KeyState* parent = nullptr;
  if (!parent_text.empty()) {
    if (Status s = CheckParent(c, key, parent_text, &parent); !s.ok()) return s;
  }
  if (key.is_child()) --KeyDirectoryInternal::KeyAt(c.dir, key.parent).children;
  key.parent = parent ? parent->id : KeyId();
  if (parent) ++parent->children;
  key.updated_us = c.now;
  c.detail = "parent " + before + " -> " + (parent ? parent->id.str() : "none");
  return Status::Ok();
}

}  // namespace keymeter::key_ops
