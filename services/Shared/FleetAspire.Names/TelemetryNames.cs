namespace FleetAspire.Names;

/// <summary>
/// Every ActivitySource and Meter the project creates is named here once; ServiceDefaults registers them all.
/// </summary>
public static class TelemetryNames
{
    public const string ActivitySource = "FleetAspire";
    public const string Meter = "FleetAspire";

    /// <summary>Sources of the libraries we trace, registered beside our own.</summary>
    public const string MassTransitSource = "MassTransit";
    public const string NpgsqlSource = "Npgsql";
}
