using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.Extensions.Options;

namespace FleetAspire.Migration.Application;

/// <summary>
/// An operator's flip and its policy: one step at a time through the gates, what force may override and what it may
/// not, the one-way flip's confirmation, leaving MachineOnly in two halves, and the audit of every outcome.
/// </summary>
public sealed partial class PhaseFlips(PhaseStore phases, PhaseGates gates, IOptions<PhaseGateOptions> options, ILogger<PhaseFlips> logger)
{
    public const string OneWayWarning =
        "ONE-WAY: Contracted drops agents' legacy machine columns, parked_machines, custom_machines and the change capture, " +
        "and makes snapshot and health-check relations required foreign keys. There is no way back to MachineOnly or any earlier phase.";

    public async Task<FlipResult> FlipAsync(TransitionPhase target, string reason, bool force, bool confirmOneWay, string actor,
        CancellationToken cancellationToken)
    {
        var current = await phases.ReadAsync(cancellationToken);
        if (PhaseRules.IsOneWay(current.Phase, target))
        {
            // Said before anything runs: the flip is refused unless the caller confirms it read this, and its gates
            // are never forced (an emergency is a reason to stay, not to drop what a rollback needs).
            var errors = new Dictionary<string, string>();
            if (!confirmOneWay)
            {
                errors["confirmOneWay"] = OneWayWarning + " Send confirmOneWay: true to proceed.";
            }

            if (force)
            {
                errors["force"] = "cannot override the gates of a one-way flip";
            }

            if (errors.Count > 0)
            {
                return new FlipResult(FlipOutcome.NotConfirmed, current, [], errors);
            }
        }

        if (current.Phase == target)
        {
            return new FlipResult(FlipOutcome.AlreadyThere, current, []);
        }

        var results = await gates.EvaluateAsync(current, target, cancellationToken);
        var failing = results.Where(g => !g.Passed).ToList();
        // Force overrides the safety gates (acknowledgements, backfill, verification, quiet period) in an emergency;
        // never the one-step rule (a skipped phase has nothing to roll back to) nor a build that lacks the target's
        // code paths (the fleet would claim a mode no instance runs).
        if (failing.Any(g => g.Gate is PhaseGates.SingleStep or PhaseGates.Builds) || (failing.Count > 0 && !force))
        {
            await phases.RecordRefusalAsync(current, target, actor, reason, force, results, cancellationToken);
            return new FlipResult(FlipOutcome.Refused, current, results);
        }

        if (current.Phase == TransitionPhase.MachineOnly && target == TransitionPhase.MachineRead)
        {
            current = await PrepareRollbackAsync(current, actor, cancellationToken) ?? current;
        }

        var forced = force && failing.Count > 0;
        var flipped = await phases.FlipAsync(target, current.Epoch, actor, reason, forced, results, cancellationToken);
        if (flipped is null)
        {
            return new FlipResult(FlipOutcome.Raced, current, results);
        }

        if (forced)
        {
            LogForced(current.Phase.ToString(), target.ToString(), actor, string.Join(", ", failing.Select(g => g.Gate)));
        }

        return new FlipResult(FlipOutcome.Flipped, flipped, results);
    }

    /// <summary>
    /// Leaving MachineOnly, first half: every instance builds legacy-mapped contexts again (same phase, next epoch), so
    /// the writes in flight when the flip lands can be planned for legacy. Waits for every live instance to run that
    /// epoch, then for requests that built their context before it. The flip proceeds after the timeout regardless:
    /// the fence keeps it correct, a straggler is answered 503 + Retry-After. Null when the epoch moved meanwhile.
    /// </summary>
    private async Task<PhaseState?> PrepareRollbackAsync(PhaseState current, string actor, CancellationToken cancellationToken)
    {
        var prepared = current.LegacyModel ? current
            : await phases.PrepareRollbackAsync(current.Epoch, actor, "leaving MachineOnly: legacy model first", cancellationToken);
        if (prepared is null)
        {
            return null;
        }

        var deadline = DateTimeOffset.UtcNow + options.Value.RollbackPrepareTimeout;
        while (DateTimeOffset.UtcNow < deadline
               && (await phases.LiveInstancesAsync(cancellationToken)).Any(i => i.Epoch != prepared.Epoch))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        await Task.Delay(options.Value.RollbackDrain, cancellationToken);
        return prepared;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Phase flip {From} -> {To} FORCED by {Actor} past failing gates: {Gates}")]
    private partial void LogForced(string from, string to, string actor, string gates);
}
