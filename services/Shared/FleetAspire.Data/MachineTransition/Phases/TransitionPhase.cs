namespace FleetAspire.Data.MachineTransition.Phases;

/// <summary>
/// The migration's phases, in order. Names are part of the operator API and the flags: never rename.
/// </summary>
public enum TransitionPhase
{
    /// <summary>Read and write the legacy fields only.</summary>
    Legacy = 0,
    /// <summary>Every write goes to both representations in one transaction; reads come from legacy.</summary>
    DualWrite = 1,
    /// <summary>Writes go to both; reads come from Machine.</summary>
    MachineRead = 2,
    /// <summary>Reads and writes use Machine only; legacy fields are no longer written.</summary>
    MachineOnly = 3,
    /// <summary>
    /// The legacy fields, tables and change capture are dropped and the child relations are strict foreign keys
    /// (the contract set, applied by the control service on this flip). One-way: there is nothing to roll back to.
    /// </summary>
    Contracted = 4,
}

/// <summary>What a phase means for storage, as feature flags and as rules. Pure: no I/O.</summary>
public static class PhaseRules
{
    /// <summary>Feature flag names (Microsoft.FeatureManagement), derived from the stored phase only.</summary>
    public static class Flags
    {
        public const string WriteLegacy = "MachineTransition.WriteLegacy";
        public const string WriteMachine = "MachineTransition.WriteMachine";
        public const string ReadMachine = "MachineTransition.ReadMachine";

        public static readonly string[] All = [WriteLegacy, WriteMachine, ReadMachine];
    }

    /// <summary>What each build can run, advertised when an instance registers.</summary>
    public static class Capabilities
    {
        public const string DualWrite = "dual-write";
        public const string MachineRead = "machine-read";
        public const string MachineOnly = "machine-only";
        /// <summary>The build maps no legacy column once the phase is MachineOnly or later (docs/adr/0014).</summary>
        public const string Contracted = "contracted";
    }

    public static bool IsEnabled(string flag, TransitionPhase phase) => flag switch
    {
        Flags.WriteLegacy => phase is TransitionPhase.Legacy or TransitionPhase.DualWrite or TransitionPhase.MachineRead,
        Flags.WriteMachine => phase >= TransitionPhase.DualWrite,
        Flags.ReadMachine => phase >= TransitionPhase.MachineRead,
        _ => false,
    };

    /// <summary>The capability an instance needs to run in a phase (null: every build can).</summary>
    public static string? RequiredCapability(TransitionPhase phase) => phase switch
    {
        TransitionPhase.DualWrite => Capabilities.DualWrite,
        TransitionPhase.MachineRead => Capabilities.MachineRead,
        TransitionPhase.MachineOnly => Capabilities.MachineOnly,
        TransitionPhase.Contracted => Capabilities.Contracted,
        _ => null,
    };

    /// <summary>One step forward or one step back; nothing else, and nothing back from <see cref="TransitionPhase.Contracted"/>.</summary>
    public static bool IsSingleStep(TransitionPhase from, TransitionPhase to) =>
        Math.Abs((int)to - (int)from) == 1 && from != TransitionPhase.Contracted;

    /// <summary>A flip that cannot be undone: the contract drops what every earlier phase needs.</summary>
    public static bool IsOneWay(TransitionPhase from, TransitionPhase to) =>
        from == TransitionPhase.MachineOnly && to == TransitionPhase.Contracted;

    /// <summary>
    /// Whether instances map the legacy columns and tables. From MachineOnly on they run the steady-state model, so
    /// the soak in MachineOnly proves that no running code needs what the contract drops.
    /// </summary>
    public static bool MapsLegacy(TransitionPhase phase) => phase < TransitionPhase.MachineOnly;

    public static TransitionPhase? Next(TransitionPhase phase) =>
        phase == TransitionPhase.Contracted ? null : phase + 1;

    public static TransitionPhase? Previous(TransitionPhase phase) =>
        phase is TransitionPhase.Legacy or TransitionPhase.Contracted ? null : phase - 1;

    public static bool TryParse(string? value, out TransitionPhase phase) =>
        Enum.TryParse(value, ignoreCase: false, out phase) && Enum.IsDefined(phase) && !int.TryParse(value, out _);
}
