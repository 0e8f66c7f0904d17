using System.Security.Claims;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Migration.Application;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FleetAspire.Migration.Apis;

/// <summary>Operator flips between phases (one step at a time, gated, audited) and the audit log.</summary>
public static class PhaseApi
{
    public const int MaxReasonLength = 500;

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
            return new FlipReadiness(target.Value.ToString(), results.All(g => g.Passed), results, oneWay, oneWay ? PhaseFlips.OneWayWarning : null);
        }

        return new PhaseView(current.Phase.ToString(), current.Epoch, current.Since, current.ChangedBy,
            await Readiness(PhaseRules.Next(current.Phase)), await Readiness(PhaseRules.Previous(current.Phase)),
            await phases.LiveInstancesAsync(cancellationToken));
    }

    /// <summary>The request's shape is checked here; what a flip may do is <see cref="PhaseFlips"/>'s to decide.</summary>
    public static async Task<Results<Ok<PhaseView>, ValidationProblem, ProblemHttpResult>> Flip(
        PhaseFlipRequest request, ClaimsPrincipal caller, PhaseFlips flips, PhaseStore phases, PhaseGates gates, CancellationToken cancellationToken)
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

        var result = await flips.FlipAsync(target, request.Reason!, request.Force, request.ConfirmOneWay, caller.UserId(), cancellationToken);
        return result.Outcome switch
        {
            FlipOutcome.Flipped => TypedResults.Ok(await ViewAsync(phases, gates, cancellationToken)),
            FlipOutcome.NotConfirmed => TypedResults.ValidationProblem(result.Errors!.ToDictionary(e => e.Key, e => new[] { e.Value })),
            FlipOutcome.AlreadyThere => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Already in that phase",
                detail: $"The fleet runs {result.Current.Phase} (epoch {result.Current.Epoch})."),
            FlipOutcome.Refused => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Flip refused by its gates",
                detail: string.Join("; ", result.Failing.Select(g => $"{g.Gate}: {g.Detail}")),
                extensions: new Dictionary<string, object?> { ["gates"] = result.Gates, ["failing"] = result.Failing.Select(g => g.Gate).ToArray() }),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The phase changed meanwhile",
                detail: "Another flip committed first; read the state and decide again."),
        };
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
}
