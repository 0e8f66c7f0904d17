using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Verification;

namespace FleetAspire.Migration.Apis;

/// <param name="Phase">The phase every service runs (<see cref="PhaseView.Phase"/>), kept at the top level for scripts.</param>
public sealed record MigrationStatus(string Phase, long Epoch, PhaseView Phases, BackfillProgress Backfill, IReadOnlyDictionary<string, long> Dirty,
    VerificationSummary? LastVerification)
{
    /// <summary>The contract set's steps once the flip to Contracted has scheduled them (empty before).</summary>
    public IReadOnlyList<ContractStepState> Contract { get; init; } = [];

    /// <summary>The phase settings this control service runs with (what the AppHost passed it), for operators to check.</summary>
    public PhaseSettings? Settings { get; init; }
}
