using FleetAspire.Names;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace FleetAspire.Data;

public static class FleetDatabaseExtensions
{
    /// <summary>
    /// Registers <see cref="FleetDbContext"/> on the <c>fleet</c> connection string with Aspire's pooling, health
    /// check and telemetry.
    /// </summary>
    /// <remarks>
    /// Aspire's retrying execution strategy is off: our writes open explicit transactions (claims, assignments), which
    /// a retrying strategy refuses, and an outage must reach the client as 503 + Retry-After rather than be hidden
    /// behind in-process retries that hold a request for tens of seconds.
    /// </remarks>
    public static IHostApplicationBuilder AddFleetDatabase(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<FleetDbContext>(
            ResourceNames.FleetDatabase,
            settings =>
            {
                settings.DisableRetry = true;
                settings.ConnectionString = WithAutoPrepare(settings.ConnectionString);
            },
            options => options.UseFleetConventions());
        return builder;
    }

    /// <summary>
    /// Lets Npgsql prepare the statements a service repeats (most of them), unless the connection string says
    /// otherwise: parsing and planning are a large share of a short query's cost.
    /// </summary>
    private static string? WithAutoPrepare(string? connectionString)
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            return connectionString;
        }

        var csb = new NpgsqlConnectionStringBuilder(connectionString);
        if (csb.MaxAutoPrepare == 0)
        {
            csb.MaxAutoPrepare = 64;
            csb.AutoPrepareMinUsages = 2;
        }

        return csb.ConnectionString;
    }
}
