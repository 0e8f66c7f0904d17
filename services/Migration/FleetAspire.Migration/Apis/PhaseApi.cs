using System.Security.Claims;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Migration.Application;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace FleetAspire.Migration.Apis;

/// <param name="ConfirmOneWay">Required (true) for the one-way flip to Contracted: the caller has read that it cannot be undone.</param>
public sealed record PhaseFlipRequest(string? Target, string? Reason, bool Force = false, bool ConfirmOneWay = false);

/// <summary>Whether a flip to <paramref name="Target"/> would be allowed now, gate by gate.</summary>
/// <param name="Warning">Set for a one-way flip: what it does that nothing can undo.</param>
public sealed record FlipReadiness(string Target, bool Open, IReadOnlyList<GateResult> Gates, bool OneWay = false, string? Warning = null);

public sealed record PhaseView(string Phase, long Epoch, DateTimeOffset Since, string ChangedBy, FlipReadiness? Next, FlipReadiness? Previous,
    IReadOnlyList<InstanceInfo> Instances);

/// <summary>Operator flips between phases (one step at a time, gated, audited) and the audit log.</summary>
public static class PhaseApi
{
    public const int MaxReasonLength = 500;

    public const string OneWayWarning =
        "ONE-WAY: Contracted drops agents' legacy machine columns, parked_machines, custom_machines and the change capture, " +
        "and makes snapshot and health-check relations required foreign keys. There is no way back to MachineOnly or any earlier phase.";

    public static RouteGroupBuilder MapPhaseApi(this RouteGroupBuilder api)
    {
        api.MapPost("/phase", Flip).WithName("FlipPhase")
            .WithSummary("Move one phase forward or back: 200 with the new state, 409 listing the gates that refuse it");
        api.MapGet("/history", History).WithName("PhaseHistory").WithSummary("Every flip, refused flips and forced ones too");
        return api;
    }

    public static async Task<PhaseView> ViewAsync(PhaseStore phases, PhaseGates gates, CancellationToken cancellationToken)
    {
        var current = await phases.ReadAsync(cancellationToken);
        async Task<FlipReadiness?> Readiness(TransitionPhase? target)
        {
            if (target is null)
            {
                return null;
            }

            var results = await gates.EvaluateAsync(current, target.Value, cancellationToken);
            var oneWay = PhaseRules.IsOneWay(current.Phase, target.Value);
            return new FlipReadiness(target.Value.ToString(), results.All(g => g.Passed), results, oneWay, oneWay ? OneWayWarning : null);
        }

        return new PhaseView(current.Phase.ToString(), current.Epoch, current.Since, current.ChangedBy,
            await Readiness(PhaseRules.Next(current.Phase)), await Readiness(PhaseRules.Previous(current.Phase)),
            await phases.LiveInstancesAsync(cancellationToken));
    }

    public static async Task<Results<Ok<PhaseView>, ValidationProblem, ProblemHttpResult>> Flip(
        PhaseFlipRequest request, ClaimsPrincipal caller, PhaseStore phases, PhaseGates gates, IOptions<PhaseGateOptions> options,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("target", PhaseRules.TryParse(request.Target, out var target) ? null
                : "must be one of " + string.Join(", ", Enum.GetNames<TransitionPhase>()))
            .Check("reason", string.IsNullOrWhiteSpace(request.Reason) ? "is required: the audit log records why"
                : request.Reason.Length > MaxReasonLength ? $"must be at most {MaxReasonLength} characters" : null);
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var current = await phases.ReadAsync(cancellationToken);
        if (PhaseRules.IsOneWay(current.Phase, target))
        {
            // Said before anything runs: the flip is refused unless the caller confirms it read this, and its gates
            // are never forced (an emergency is a reason to stay, not to drop what a rollback needs).
            errors.Check("confirmOneWay", request.ConfirmOneWay ? null : OneWayWarning + " Send confirmOneWay: true to proceed.")
                  .Check("force", request.Force ? "cannot override the gates of a one-way flip" : null);
            if (errors.Any)
            {
                return TypedResults.ValidationProblem(errors.ToDictionary());
            }
        }

        if (current.Phase == target)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Already in that phase",
                detail: $"The fleet runs {current.Phase} (epoch {current.Epoch}).");
        }

        var results = await gates.EvaluateAsync(current, target, cancellationToken);
        var failing = results.Where(g => !g.Passed).ToList();
        // Force overrides the safety gates (acknowledgements, backfill, verification, quiet period) in an emergency;
        // never the one-step rule (a skipped phase has nothing to roll back to) nor a build that lacks the target's
        // code paths (the fleet would claim a mode no instance runs).
        var blocked = failing.Any(g => g.Gate is PhaseGates.SingleStep or PhaseGates.Builds) || (failing.Count > 0 && !request.Force);
        if (blocked)
        {
            await phases.RecordRefusalAsync(current, target, caller.UserId(), request.Reason!, request.Force, results, cancellationToken);
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Flip refused by its gates",
                detail: string.Join("; ", failing.Select(g => $"{g.Gate}: {g.Detail}")),
                extensions: new Dictionary<string, object?> { ["gates"] = results, ["failing"] = failing.Select(g => g.Gate).ToArray() });
        }

        if (current.Phase == TransitionPhase.MachineOnly && target == TransitionPhase.MachineRead)
        {
            current = await PrepareRollbackAsync(current, phases, options.Value, caller.UserId(), cancellationToken) ?? current;
        }

        var flipped = await phases.FlipAsync(target, current.Epoch, caller.UserId(), request.Reason!, request.Force && failing.Count > 0, results, cancellationToken);
        if (flipped is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The phase changed meanwhile",
                detail: "Another flip committed first; read the state and decide again.");
        }

        if (request.Force && failing.Count > 0)
        {
            LogForced(loggers.CreateLogger(typeof(PhaseApi)), current.Phase.ToString(), target.ToString(), caller.UserId(),
                string.Join(", ", failing.Select(g => g.Gate)));
        }

        return TypedResults.Ok(await ViewAsync(phases, gates, cancellationToken));
    }

    public static async Task<Results<Ok<IReadOnlyList<PhaseHistoryEntry>>, ValidationProblem>> History(
        PhaseStore phases, [FromQuery] long? before, [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("before", before is null or > 0 ? null : "must be a positive history id")
            .Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        return TypedResults.Ok(await phases.HistoryAsync(before, limit ?? InputRules.DefaultPageSize, cancellationToken));
    }

    /// <summary>
    /// Leaving MachineOnly, first half: every instance builds legacy-mapped contexts again (same phase, next epoch), so
    /// the writes in flight when the flip lands can be planned for legacy. Waits for every live instance to run that
    /// epoch, then for requests that built their context before it. The flip proceeds after the timeout regardless:
    /// the fence keeps it correct, a straggler is answered 503 + Retry-After. Null when the epoch moved meanwhile.
    /// </summary>
    private static async Task<PhaseState?> PrepareRollbackAsync(PhaseState current, PhaseStore phases, PhaseGateOptions options, string actor,
        CancellationToken cancellationToken)
    {
        var prepared = current.LegacyModel ? current
            : await phases.PrepareRollbackAsync(current.Epoch, actor, "leaving MachineOnly: legacy model first", cancellationToken);
        if (prepared is null)
        {
            return null;
        }

        var deadline = DateTimeOffset.UtcNow + options.RollbackPrepareTimeout;
        while (DateTimeOffset.UtcNow < deadline
               && (await phases.LiveInstancesAsync(cancellationToken)).Any(i => i.Epoch != prepared.Epoch))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        await Task.Delay(options.RollbackDrain, cancellationToken);
        return prepared;
    }

    private static void LogForced(ILogger logger, string from, string to, string actor, string gates) =>
        logger.LogWarning("Phase flip {From} -> {To} FORCED by {Actor} past failing gates: {Gates}", from, to, actor, gates);
}
