using FleetAspire.Data.Reads;
using FleetAspire.Data.Writes;
using FleetAspire.Names;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
        // Registered here (not by AddNpgsqlDbContext) so the options can take the interceptors the service registered —
        // the migration's epoch fence and dual-write (MachineTransition/Modes) — then enriched with Aspire's health
        // check, telemetry and settings.
        var connectionString = WithAutoPrepare(builder.Configuration.GetConnectionString(ResourceNames.FleetDatabase))
            ?? throw new InvalidOperationException($"Connection string '{ResourceNames.FleetDatabase}' is missing.");
        // Not pooled: a pooled context keeps the model it first built, and while the migration runs the model follows
        // the phase (docs/adr/0014) — each context takes it when it is created.
        builder.Services.AddDbContext<FleetDbContext>((sp, options) => options
            .UseFleetNpgsql(connectionString)
            .UseFleetConventions()
            .AddInterceptors(sp.GetServices<IInterceptor>()));
        builder.EnrichNpgsqlDbContext<FleetDbContext>(settings => settings.DisableRetry = true);

        builder.Services.TryAddSingleton<IBatchFence, UnfencedBatch>();
        builder.Services.AddScoped<IAssignmentWrites, MachineAssignmentWrites>();
        builder.Services.AddScoped<IMachineChildReads, MachineChildReads>();
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
