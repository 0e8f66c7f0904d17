namespace FleetAspire.Migration.Application;

public sealed class PhaseGateOptions
{
    public const string Section = "Phases";

    /// <summary>How long the fleet must run in MachineRead, clean, before MachineOnly may be entered.</summary>
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Old code counts as alive while it wrote (untagged, outside this build) within this window.</summary>
    public TimeSpan OldCodeWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Leaving MachineOnly: after every instance maps the legacy model again, how long requests that built their
    /// context before may still run before the flip back (longer ones are answered 503 + Retry-After).
    /// </summary>
    public TimeSpan RollbackDrain { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the flip back from MachineOnly waits for every instance to map the legacy model again.</summary>
    public TimeSpan RollbackPrepareTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the fleet must run in MachineOnly — no legacy code path, no write error — before the contract.</summary>
    public TimeSpan ContractSoak { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long one attempt of a flip waits for the writes of the old epoch (writers queue behind it meanwhile).</summary>
    public TimeSpan FlipLockTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Attempts of a flip before it is answered 503 + Retry-After (a writer holds the fence that long).</summary>
    public int FlipAttempts { get; set; } = 10;
}
