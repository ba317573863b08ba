using System.Diagnostics;
using System.Globalization;

namespace Interconnect.ImcCat;

/// <summary>With --progress: one line on standard error every second (bytes, rate, and what the side counts), and one at the end.</summary>
internal sealed class Progress : IDisposable
{
    private readonly string _verb;
    private readonly Func<long> _bytes;
    private readonly Func<string> _details;
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private readonly Timer? _timer;
    private long _lastBytes;
    private TimeSpan _lastTime;

    public Progress(bool enabled, string verb, Func<long> bytes, Func<string> details)
    {
        _verb = verb;
        _bytes = bytes;
        _details = details;
        if (enabled)
        {
            _timer = new Timer(_ => Report(final: false), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    public void Finish()
    {
        _timer?.Dispose();
        if (_timer is not null)
        {
            Report(final: true);
        }
    }

    public void Dispose() => _timer?.Dispose();

    private void Report(bool final)
    {
        var bytes = _bytes();
        var now = _watch.Elapsed;
        var seconds = final ? now.TotalSeconds : (now - _lastTime).TotalSeconds;
        var rate = (final ? bytes : bytes - _lastBytes) / Math.Max(seconds, 1e-9) / (1 << 20);
        _lastBytes = bytes;
        _lastTime = now;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"imccat: {(final ? "done: " : "")}{bytes} bytes {_verb} in {now.TotalSeconds:0.0} s, {rate:0.0} MiB/s{(final ? " on average" : "")}; {_details()}"));
    }
}
