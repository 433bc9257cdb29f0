#include "api/routes.h"

#include "api/admin.h"
#include "api/console.h"
#include "api/gateway.h"
#include "api/idempotency.h"
#include "api/member.h"
#include "api/operator.h"
#include "api/ops.h"

namespace keymeter {

void RegisterRoutes(ServeContext& context) {
  http::Router& router = context.router;
  RegisterOpsRoutes(router, context);
  RegisterAdminRoutes(router, context);
  RegisterMemberRoutes(router, context);
  RegisterOperatorRoutes(router, context);
  RegisterGatewayRoutes(router, context);
  RegisterConsoleRoutes(router);
  router.Wrap([&context](const http::Router::Route& route, http::Handler handler) {
    return TakesIdempotencyKey(route)
               ? WithIdempotency(context.options.operator_token_hash, std::move(handler))
               : handler;
  });
}

}  // namespace keymeter
