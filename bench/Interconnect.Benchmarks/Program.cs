using BenchmarkDotNet.Running;

namespace Interconnect.Benchmarks;

/// <summary>
/// Per-call costs of the Imc API, with BenchmarkDotNet:
/// <c>dotnet run -c Release --project bench/Interconnect.Benchmarks -- --filter '*'</c>.
/// </summary>
internal static class Program
{
    private static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
