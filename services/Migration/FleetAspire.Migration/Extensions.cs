using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Migration.Application;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Secrets;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FleetAspire.Migration;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        // The engines speak SQL directly: one data source on the same connection string as the context.
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(
            builder.Configuration.GetConnectionString(ResourceNames.FleetDatabase)
            ?? throw new InvalidOperationException($"Connection string '{ResourceNames.FleetDatabase}' is missing.")));
        builder.Services.AddOptions<BackfillOptions>().BindConfiguration(BackfillOptions.Section);
        builder.Services.AddSingleton(sp => new MachineBackfill(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IOptions<BackfillOptions>>().Value));
        // Shared keys are compared by HMAC in SQL, keyed with the same derived key as every fingerprint (never the signing key).
        builder.Services.AddSingleton(sp => new MachineVerifier(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<SecretFingerprint>().Key));
        builder.Services.AddSingleton(sp => new DirtyRows(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddSingleton<BackfillRunner>();
        builder.Services.AddSingleton(sp => new FleetAspire.Data.MachineTransition.Repair.MachineRepair(sp.GetRequiredService<NpgsqlDataSource>(),
            builder.Configuration.GetValue("Repair:MaxItems", 1000)));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BackfillRunner>());
        builder.Services.AddOptions<VerificationScheduleOptions>().BindConfiguration(VerificationScheduleOptions.Section);
        builder.Services.AddHostedService<MigrationMonitor>();
        builder.Services.AddSingleton(sp =>
        {
            var flips = sp.GetRequiredService<IOptions<PhaseGateOptions>>().Value;
            return new PhaseStore(sp.GetRequiredService<NpgsqlDataSource>()) { FlipLockTimeout = flips.FlipLockTimeout, FlipAttempts = flips.FlipAttempts };
        });
        builder.Services.AddOptions<PhaseGateOptions>().BindConfiguration(PhaseGateOptions.Section);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PhaseGates>();
        builder.Services.AddSingleton<PhaseFlips>();
        builder.Services.AddOptions<FallbackOptions>().BindConfiguration(FallbackOptions.Section);
        builder.Services.AddSingleton<AutomaticFallback>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AutomaticFallback>());
        builder.Services.AddSingleton<FleetAspire.Data.MachineTransition.Contract.ContractRunner>();
        builder.Services.AddOptions<ContractOptions>().BindConfiguration(ContractOptions.Section);
        builder.Services.AddHostedService<ContractApplier>();
    }
}
