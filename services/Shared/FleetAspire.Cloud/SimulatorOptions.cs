namespace FleetAspire.Cloud;

public sealed class SimulatorOptions
{
    /// <summary>Time from create to running. Zero for tests and benchmarks.</summary>
    public TimeSpan ReadyDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Time an image takes to be created. Zero by default; tests set it to make requests overlap with it.</summary>
    public TimeSpan ImageDelay { get; set; } = TimeSpan.Zero;
}
