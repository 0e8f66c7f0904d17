using FleetAspire.Bench;

// Benchmarks print figures; they never pass or fail. Each compares the product with a floor measured in the same
// run on the same database server, and ends with one machine-readable line.
//   dotnet run -c Release --project tools/FleetAspire.Bench -- claims --clients 32 --ops 5000
//   dotnet run -c Release --project tools/FleetAspire.Bench -- backfill --agents 1000000 [--rate 200] [--batch 1000]
//   dotnet run -c Release --project tools/FleetAspire.Bench -- verify --agents 1000000
//   dotnet run -c Release --project tools/FleetAspire.Bench -- writes --ops 2000
//   dotnet run -c Release --project tools/FleetAspire.Bench -- reads --ops 4000 --rate 200
//   dotnet run -c Release --project tools/FleetAspire.Bench -- coldstart --runs 3
var command = args.FirstOrDefault();
var options = BenchOptions.Parse(args.Skip(1).ToArray());
return command switch
{
    "claims" => await ClaimsBenchmark.RunAsync(options),
    "backfill" => await BackfillBenchmark.RunAsync(options),
    "verify" => await VerifyBenchmark.RunAsync(options),
    "writes" => await WritesBenchmark.RunAsync(options),
    "reads" => await ReadsBenchmark.RunAsync(options),
    "coldstart" => await ColdStartBenchmark.RunAsync(options),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: FleetAspire.Bench claims [--clients N] [--ops N]");
    Console.Error.WriteLine("       FleetAspire.Bench backfill [--agents N] [--rate OPS_PER_S] [--batch ROWS]");
    Console.Error.WriteLine("       FleetAspire.Bench verify [--agents N]");
    Console.Error.WriteLine("       FleetAspire.Bench writes [--ops N]");
    Console.Error.WriteLine("       FleetAspire.Bench reads [--ops N] [--rate READS_PER_S]");
    Console.Error.WriteLine("       FleetAspire.Bench coldstart [--runs N]   (from the repository root, ports 5101-5105 free)");
    return 2;
}
