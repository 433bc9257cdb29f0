// Encoding of accounts, gateways and keys as stored records (schemas/records.fbs).
//
// Encode is deterministic: equal states give equal bytes, which the checksum relies on.
// Decode verifies the buffer first and returns nullopt on anything that does not verify.

#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "projections/key_state.h"

namespace keymeter {

std::string EncodeAccount(const AccountState& account);
std::optional<AccountState> DecodeAccount(std::string_view bytes);

std::string EncodeGateway(const GatewayState& gateway);
std::optional<GatewayState> DecodeGateway(std::string_view bytes);

std::string EncodeKey(const KeyState& key);
// `children` is left 0: it is derived when the directory loads.
std::optional<KeyState> DecodeKey(std::string_view bytes);

}  // namespace keymeter
