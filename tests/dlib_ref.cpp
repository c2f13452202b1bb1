// dlib_ref: reference 68-point landmarks from dlib's own shape_predictor, used only by
// tests/make-fixtures-face.py (built there against Debian's libdlib-dev; never by make).
//   dlib_ref MODEL.dat < cases   where each input line is "IMAGE.pgm x y w h" (an OpenCV-style
//   box); prints "x0 y0 x1 y1 ... x67 y67" per line. The box becomes dlib's inclusive
//   rectangle (x, y, x+w-1, y+h-1); the gray image is passed as is.
#include <dlib/image_processing.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

static bool read_pgm(const std::string &path, dlib::array2d<unsigned char> &img)
{
    std::ifstream f(path, std::ios::binary);
    std::string magic;
    long w, h, maxval;
    if (!(f >> magic >> w >> h >> maxval) || magic != "P5" || maxval != 255) return false;
    f.get();
    img.set_size(h, w);
    for (long y = 0; y < h; y++)
        if (!f.read(reinterpret_cast<char *>(&img[y][0]), w)) return false;
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2) { std::cerr << "usage: dlib_ref MODEL.dat < cases\n"; return 2; }
    dlib::shape_predictor sp;
    dlib::deserialize(argv[1]) >> sp;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string path;
        long x, y, w, h;
        if (!(in >> path >> x >> y >> w >> h)) { std::cerr << "dlib_ref: bad line: " << line << "\n"; return 1; }
        dlib::array2d<unsigned char> img;
        if (!read_pgm(path, img)) { std::cerr << "dlib_ref: " << path << ": not a binary PGM\n"; return 1; }
        dlib::full_object_detection d = sp(img, dlib::rectangle(x, y, x + w - 1, y + h - 1));
        for (unsigned long i = 0; i < d.num_parts(); i++)
            std::cout << (i ? " " : "") << d.part(i).x() << " " << d.part(i).y();
        std::cout << "\n";
    }
    return 0;
}
