using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Migration.Application;

/// <param name="Errors">For <see cref="FlipOutcome.NotConfirmed"/>: field → why.</param>
public sealed record FlipResult(FlipOutcome Outcome, PhaseState Current, IReadOnlyList<GateResult> Gates,
    IReadOnlyDictionary<string, string>? Errors = null)
{
    public IReadOnlyList<GateResult> Failing => Gates.Where(g => !g.Passed).ToList();
}
