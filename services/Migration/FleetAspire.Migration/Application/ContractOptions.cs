namespace FleetAspire.Migration.Application;

public sealed class ContractOptions
{
    public const string Section = "Contract";

    /// <summary>Waited after each applied step, so an operator can watch each one land (default: none).</summary>
    public TimeSpan PauseBetweenSteps { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// After every live instance runs the current epoch, how long requests that built their context before may still
    /// run before the next step (the contract's start, and each barrier that changes what instances map).
    /// </summary>
    public TimeSpan Drain { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the applier looks for owed steps when nothing woke it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}
