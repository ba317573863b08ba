using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Interconnect.Benchmarks.Tests;

/// <summary>
/// One benchmark method of the suite with one combination of its class's [Params] values, as BenchmarkDotNet would
/// run it: found by reflection, so a benchmark added later is checked without touching the tests.
/// </summary>
public sealed class BenchmarkCase
{
    private BenchmarkCase(Type type, MethodInfo method, IReadOnlyList<(PropertyInfo Property, object? Value)> parameters, IReadOnlyList<string> categories)
    {
        Type = type;
        Method = method;
        Parameters = parameters;
        Categories = categories;
    }

    public Type Type { get; }

    public MethodInfo Method { get; }

    public IReadOnlyList<(PropertyInfo Property, object? Value)> Parameters { get; }

    public IReadOnlyList<string> Categories { get; }

    /// <summary>A call of the Imc data path (not one of the raw baselines measured beside it).</summary>
    public bool IsDataPath => Categories.Contains(Benchmarks.Categories.DataPath) && !Categories.Contains(Benchmarks.Categories.Baseline);

    public string Name => $"{Type.Name}.{Method.Name}" +
        (Parameters.Count == 0 ? "" : $"({string.Join(", ", Parameters.Select(p => $"{p.Property.Name}={p.Value}"))})");

    /// <summary>Every benchmark of the suite, with every combination of its [Params].</summary>
    public static IEnumerable<BenchmarkCase> All()
    {
        foreach (var type in typeof(ClusterBenchmark).Assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }))
        {
            var methods = type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null).ToList();
            if (methods.Count == 0)
            {
                continue;
            }

            var classCategories = type.GetCustomAttributes<BenchmarkCategoryAttribute>(inherit: true).SelectMany(c => c.Categories);
            foreach (var combination in Combinations(type))
            {
                foreach (var method in methods)
                {
                    var categories = classCategories
                        .Concat(method.GetCustomAttributes<BenchmarkCategoryAttribute>().SelectMany(c => c.Categories))
                        .ToList();
                    yield return new BenchmarkCase(type, method, combination, categories);
                }
            }
        }
    }

    public override string ToString() => Name;

    private static IEnumerable<List<(PropertyInfo, object?)>> Combinations(Type type)
    {
        IEnumerable<List<(PropertyInfo, object?)>> combinations = [[]];
        foreach (var property in type.GetProperties())
        {
            if (property.GetCustomAttribute<ParamsAttribute>() is { } values)
            {
                combinations = combinations.SelectMany(c => values.Values.Select(v => new List<(PropertyInfo, object?)>(c) { (property, v) })).ToList();
            }
        }

        return combinations;
    }
}
