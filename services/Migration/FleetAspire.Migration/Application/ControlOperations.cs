using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Migration.Application;

/// <summary>
/// The one table of which control operation means something in which phase. A route outside its phases answers 409
/// ProblemDetails naming the phases where it applies — never 202 for work that would do nothing, never 500 for a query
/// of a model that is no longer maintained. Pure: no I/O.
/// </summary>
public static class ControlOperations
{
    public const string BackfillStart = "backfill/start";
    public const string BackfillPause = "backfill/pause";
    public const string BackfillResume = "backfill/resume";
    public const string BackfillCatchUp = "backfill/catch-up";
    public const string Verify = "verify";
    public const string Repair = "repair";
    public const string ResolveDirty = "dirty/resolve";

    private static readonly TransitionPhase[] BeforeContract =
        [TransitionPhase.Legacy, TransitionPhase.DualWrite, TransitionPhase.MachineRead, TransitionPhase.MachineOnly];

    private static readonly Dictionary<string, (TransitionPhase[] Phases, string Why)> Table = new()
    {
        // The copy is only safe while every instance dual-writes and legacy is still authoritative.
        [BackfillStart] = ([TransitionPhase.DualWrite], "the backfill copies legacy into Machine while every instance dual-writes and legacy is authoritative"),
        [BackfillResume] = ([TransitionPhase.DualWrite], "the backfill copies legacy into Machine while every instance dual-writes and legacy is authoritative"),
        [BackfillCatchUp] = ([TransitionPhase.DualWrite], "the catch-up copies legacy writes into Machine while legacy is authoritative"),
        // Stopping a copy is always safe while the legacy model exists (e.g. after a rollback to Legacy mid-run).
        [BackfillPause] = (BeforeContract, "the backfill reads the legacy model"),
        // Both models are maintained only in these phases; elsewhere a comparison reports the design, not a fault.
        [Verify] = ([TransitionPhase.DualWrite, TransitionPhase.MachineRead], "a comparison means something only while both models are written"),
        [Repair] = ([TransitionPhase.DualWrite, TransitionPhase.MachineRead], "a repair writes one maintained model from the other"),
        [ResolveDirty] = (BeforeContract, "dirty rows are legacy rows, which the contract dropped"),
    };

    public static IReadOnlyList<TransitionPhase> PhasesOf(string operation) => Table[operation].Phases;

    /// <summary>Null when <paramref name="operation"/> means something in <paramref name="phase"/>; otherwise why not.</summary>
    public static string? RefusalIn(string operation, TransitionPhase phase)
    {
        var (phases, why) = Table[operation];
        return phases.Contains(phase)
            ? null
            : $"'{operation}' runs only in {string.Join(", ", phases)} ({why}); the fleet is in {phase}.";
    }
}
