using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Migration.Application;

namespace FleetAspire.Migration.Apis;

/// <summary>Routes that run only in the phases where their operation means something (<see cref="ControlOperations"/>).</summary>
public static class PhaseFilter
{
    public static RouteHandlerBuilder AllowedIn(this RouteHandlerBuilder route, string operation) =>
        route.AddEndpointFilter(async (context, next) =>
        {
            var phases = context.HttpContext.RequestServices.GetRequiredService<PhaseStore>();
            var current = await phases.ReadAsync(context.HttpContext.RequestAborted);
            return ControlOperations.RefusalIn(operation, current.Phase) is { } refusal
                ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: $"Not meaningful in {current.Phase}", detail: refusal,
                    extensions: new Dictionary<string, object?>
                    {
                        ["phase"] = current.Phase.ToString(),
                        ["allowedIn"] = ControlOperations.PhasesOf(operation).Select(p => p.ToString()).ToArray(),
                    })
                : await next(context);
        }).ProducesProblem(StatusCodes.Status409Conflict);
}
