namespace Interconnect.Imc.Streams;

/// <summary>
/// The other end of a stream gave no sign of life (its heartbeat stood still) for longer than
/// <see cref="ImcStreamOptions.PeerTimeout"/>: it is gone, or was never there.
/// </summary>
public sealed class ImcStreamPeerGoneException : IOException
{
    /// <summary>Creates the exception with a default message.</summary>
    public ImcStreamPeerGoneException()
        : base("the other end of the stream is gone")
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public ImcStreamPeerGoneException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public ImcStreamPeerGoneException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
