namespace FleetAspire.Cloud;

public sealed class CloudOptions
{
    public const string Section = "Cloud";

    public HetznerOptions Hetzner { get; set; } = new();
    public SimulatorOptions Simulator { get; set; } = new();
}

public sealed class HetznerOptions
{
    /// <summary>API token. The Hetzner client is used only when this is set.</summary>
    public string? Token { get; set; }
    public Uri BaseUrl { get; set; } = new("https://api.hetzner.cloud/v1/");
    public string ServerType { get; set; } = "cx22";
    public string Image { get; set; } = "ubuntu-24.04";
    public string Location { get; set; } = "nbg1";
}

public sealed class SimulatorOptions
{
    /// <summary>Time from create to running. Zero for tests and benchmarks.</summary>
    public TimeSpan ReadyDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Time an image takes to be created. Zero by default; tests set it to make requests overlap with it.</summary>
    public TimeSpan ImageDelay { get; set; } = TimeSpan.Zero;
}
