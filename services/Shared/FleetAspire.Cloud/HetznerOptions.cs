namespace FleetAspire.Cloud;

public sealed class HetznerOptions
{
    /// <summary>API token. The Hetzner client is used only when this is set.</summary>
    public string? Token { get; set; }
    public Uri BaseUrl { get; set; } = new("https://api.hetzner.cloud/v1/");
    public string ServerType { get; set; } = "cx22";
    public string Image { get; set; } = "ubuntu-24.04";
    public string Location { get; set; } = "nbg1";
}
