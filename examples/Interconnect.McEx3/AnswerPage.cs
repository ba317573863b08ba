namespace Interconnect.Examples;

/// <summary>
/// The region the receiver of Examples 10-3 and 10-4 writes back (key 1235): the higher-level protocol the manual
/// says the transmitter must rely on, since the receiver's count check cannot tell the transmitter by itself.
/// <code>
///   offset  bytes  field
///        0      4  Ready      the receiver's pid, once its receive attach of the message page is in place
///        4      4  Accepted   how many messages the receiver accepted, in order
///        8      4  Rejected   the last transmission the receiver found damaged: send that message again
/// </code>
/// Each field is one aligned 4-byte write, which lands whole.
/// </summary>
internal static class AnswerPage
{
    public const int Key = 1235;
    public const long Size = 8192;
    public const long ReadyOffset = 0;
    public const long AcceptedOffset = 4;
    public const long RejectedOffset = 8;
}
