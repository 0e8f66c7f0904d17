namespace FleetAspire.Migration.Application;

public sealed class VerificationScheduleOptions
{
    public const string Section = "Verification";

    /// <summary>
    /// How often the incremental verification runs over the change log; zero turns it off. It starts only once an
    /// operator has run a full verification: before that there is no baseline, and every change would read as missing.
    /// </summary>
    public TimeSpan IncrementalInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the published gauges are refreshed from the database.</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(2);
}
